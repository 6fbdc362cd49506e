// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";

  // Follow-up questions: show one only while its trigger answer is chosen.
  function answerOf(form, name) {
    var wrapper = document.getElementById("q-" + name);
    if (wrapper && wrapper.hidden) { return null; }
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : null;
  }

  function updateFollowUps(form) {
    var followUps = form.querySelectorAll("[data-show-when]");
    for (var i = 0; i < followUps.length; i++) {
      var el = followUps[i];
      var trigger = JSON.parse(el.getAttribute("data-show-when"));
      var show = Object.keys(trigger).every(function (name) {
        return trigger[name].indexOf(answerOf(form, name)) !== -1;
      });
      el.hidden = !show;
    }
  }

  function setUpQuestionnaire() {
    var form = document.querySelector("form.questionnaire");
    if (!form) { return; }
    // With the script, a follow-up only appears when it applies: the note
    // explaining when to answer it is for pages without the script.
    var notes = form.querySelectorAll("[data-show-when] .follow-up-note");
    for (var i = 0; i < notes.length; i++) { notes[i].hidden = true; }
    form.addEventListener("change", function () { updateFollowUps(form); });
    updateFollowUps(form);
    keepAnswers(form);
    setUpSteps(form);
  }

  // Answers kept on reload: in this tab's sessionStorage only, never sent
  // before the patient submits, never on a reception kiosk, gone on submit.
  var STORE_PREFIX = "screening-answers:";

  function store() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function storeKey(form) { return STORE_PREFIX + (form.getAttribute("action") || location.pathname); }

  function isKiosk(form) {
    return document.body.hasAttribute("data-kiosk") || form.hasAttribute("data-kiosk");
  }

  // The typed signature and the consent tick are never kept: after a reload the patient signs again.
  function keptFields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) &&
        !/^(hidden|submit|button|file|password)$/.test(el.type) && !el.closest(".consent-section");
    });
  }

  function readKept(form) {
    var storage = store();
    if (!storage || isKiosk(form)) { return null; }
    try { return JSON.parse(storage.getItem(storeKey(form)) || "null"); } catch (e) { return null; }
  }

  function writeKept(form, step) {
    var storage = store();
    if (!storage || isKiosk(form)) { return; }
    var values = {};
    keptFields(form).forEach(function (el) {
      if (!values[el.name]) { values[el.name] = []; }
      if ((el.type === "radio" || el.type === "checkbox") ? el.checked : el.value) {
        values[el.name].push(el.value);
      }
    });
    var kept = readKept(form) || {};
    kept.values = values;
    if (step !== undefined) { kept.step = step; }
    try { storage.setItem(storeKey(form), JSON.stringify(kept)); } catch (e) { /* full or refused: not kept */ }
  }

  function forgetAnswers(form) {
    var storage = store();
    if (!storage) { return; }
    try {
      if (form) { storage.removeItem(storeKey(form)); return; }
      for (var i = storage.length - 1; i >= 0; i--) {
        var key = storage.key(i);
        if (key && key.indexOf(STORE_PREFIX) === 0) { storage.removeItem(key); }
      }
    } catch (e) { /* nothing kept */ }
  }

  function keepAnswers(form) {
    if (isKiosk(form)) { forgetAnswers(form); return; }
    var kept = readKept(form);
    // A page the server sent back with errors shows what was sent: that wins.
    if (kept && kept.values && !document.getElementById("error-summary")) {
      keptFields(form).forEach(function (el) {
        var values = kept.values[el.name];
        if (!values) { return; }
        if (el.type === "radio" || el.type === "checkbox") { el.checked = values.indexOf(el.value) !== -1; }
        else { el.value = values[0] || ""; }
      });
      updateFollowUps(form);
    }
    form.addEventListener("input", function () { writeKept(form); });
    form.addEventListener("change", function () { writeKept(form); });
  }

  // Steps: one section per screen, checked on "Next" by the rules the server
  // applies (required answers; "not sure" is an answer; hidden follow-ups skipped).
  function setUpSteps(form) {
    var sections = Array.prototype.slice.call(form.querySelectorAll("section.form-section[data-step-title]"));
    if (sections.length < 2) { return; }
    // The questions first, then the patient's details (data-step-late), then the consent.
    var last = sections[sections.length - 1];
    var late = sections.filter(function (s) { return s.hasAttribute("data-step-late") && s !== last; });
    late.forEach(function (s) { last.parentNode.insertBefore(s, last); });
    sections = sections.filter(function (s) { return late.indexOf(s) === -1 && s !== last; }).concat(late, [last]);
    var text = function (name) { return form.getAttribute("data-text-" + name) || ""; };
    var count = sections.length;
    var current = 0;

    var status = document.createElement("p");
    status.className = "step-status";
    status.id = "step-status";
    status.setAttribute("aria-live", "polite");
    var bar = document.createElement("progress");
    bar.max = count;
    bar.setAttribute("aria-labelledby", "step-status");
    var progress = document.createElement("div");
    progress.className = "step-progress";
    progress.appendChild(status);
    progress.appendChild(bar);
    form.insertBefore(progress, form.firstChild);

    var submit = form.querySelector("#submit");
    var nav = document.createElement("div");
    nav.className = "step-nav";
    var back = document.createElement("button");
    back.type = "button";
    back.className = "button secondary step-back";
    back.textContent = text("back");
    var next = document.createElement("button");
    next.type = "button";
    next.className = "button step-next";
    next.textContent = text("next");
    nav.appendChild(back);
    nav.appendChild(next);
    var submitLine = submit ? submit.parentNode : null;
    if (submit) { nav.appendChild(submit); }
    form.appendChild(nav);
    if (submitLine && !submitLine.children.length) { submitLine.hidden = true; }

    sections.forEach(function (section, index) {
      section.setAttribute("data-step", String(index + 1));
      var heading = section.querySelector("h2");
      if (heading) { heading.setAttribute("tabindex", "-1"); }
      // The page's "Section n of m" is for the one page; the steps say it above.
      var numbers = section.querySelectorAll(".section-progress");
      for (var i = 0; i < numbers.length; i++) { numbers[i].hidden = true; }
    });
    form.setAttribute("data-steps", String(count));

    function show(index, moveFocus) {
      current = Math.max(0, Math.min(count - 1, index));
      sections.forEach(function (section, i) { section.hidden = i !== current; });
      var title = sections[current].getAttribute("data-step-title");
      status.textContent = text("step").replace("{number}", current + 1).replace("{count}", count).replace("{title}", title);
      bar.value = current + 1;
      form.setAttribute("data-step", String(current + 1));
      back.hidden = current === 0;
      next.hidden = current === count - 1;
      if (submit) { submit.hidden = current !== count - 1; }
      if (moveFocus) {
        writeKept(form, current);
        var heading = sections[current].querySelector("h2");
        progress.scrollIntoView();
        if (heading) { heading.focus({ preventScroll: true }); }
      }
    }

    function stepOf(element) {
      var section = element.closest ? element.closest("section[data-step]") : null;
      return section ? sections.indexOf(section) : -1;
    }

    back.addEventListener("click", function () { clearStepSummary(); show(current - 1, true); });
    next.addEventListener("click", function () {
      if (checkStep(form, sections[current], text)) { show(current + 1, true); }
    });
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.name === "switch_language") { return; }  // answers go along, unchecked
      if (current < count - 1) {
        // Enter in a field before the last step: the next step, not the whole form.
        event.preventDefault();
        next.click();
        return;
      }
      for (var i = 0; i < count; i++) {
        if (!checkStep(form, sections[i], text)) {
          event.preventDefault();
          if (i !== current) { show(i, false); checkStep(form, sections[i], text); }
          return;
        }
      }
      forgetAnswers(form);
    });
    // Enter in a field: the next step, or on the last one the form (never the language switch,
    // the first submit button the form owns).
    form.addEventListener("keydown", function (event) {
      var el = event.target;
      if (event.key !== "Enter" || el.tagName !== "INPUT" || /^(submit|button)$/.test(el.type)) { return; }
      event.preventDefault();
      if (current < count - 1) { next.click(); } else if (submit) { submit.click(); }
    });
    // A link in an error summary opens the step holding its field.
    stepsOpen = function (element) {
      var index = stepOf(element);
      if (index !== -1 && index !== current) { show(index, false); }
    };

    // Errors from the server: the first step with one. Else the step kept for this tab.
    var start = 0;
    if (document.getElementById("error-summary")) {
      var firstError = form.querySelector("section[data-step] .has-error, section[data-step] .field-error");
      start = firstError ? stepOf(firstError) : count - 1;
    } else {
      var kept = readKept(form);
      if (kept && typeof kept.step === "number") { start = kept.step; }
    }
    show(start, false);
  }

  // Set by setUpSteps: open the step that holds an element.
  var stepsOpen = function () {};

  function clearStepSummary() {
    var old = document.getElementById("step-error-summary");
    if (old) { old.parentNode.removeChild(old); }
    var error = document.querySelector("form.questionnaire[data-text-error]");
    var prefix = error ? error.getAttribute("data-text-error") + ": " : "";
    if (prefix && document.title.indexOf(prefix) === 0) { document.title = document.title.slice(prefix.length); }
  }

  function fieldTarget(wrapper) {
    return wrapper.tagName === "FIELDSET" ? wrapper : wrapper.querySelector("input, textarea, select");
  }

  function fieldLabel(wrapper) {
    var label = wrapper.tagName === "FIELDSET" ? wrapper.querySelector("legend") : wrapper.querySelector("label");
    return label ? label.textContent.trim() : "";
  }

  function clearError(wrapper) {
    var target = fieldTarget(wrapper);
    var errors = wrapper.querySelectorAll(".field-error");
    for (var i = 0; i < errors.length; i++) {
      var id = errors[i].id;
      errors[i].parentNode.removeChild(errors[i]);
      var inputs = wrapper.querySelectorAll("[aria-describedby]");
      var owners = Array.prototype.slice.call(inputs);
      if (wrapper.hasAttribute("aria-describedby")) { owners.push(wrapper); }
      owners.forEach(function (owner) {
        var ids = owner.getAttribute("aria-describedby").split(" ").filter(function (x) { return x && x !== id; });
        if (ids.length) { owner.setAttribute("aria-describedby", ids.join(" ")); } else { owner.removeAttribute("aria-describedby"); }
      });
    }
    wrapper.classList.remove("has-error");
    if (target) { target.removeAttribute("aria-invalid"); }
    var invalid = wrapper.querySelectorAll("[aria-invalid]");
    for (var j = 0; j < invalid.length; j++) { invalid[j].removeAttribute("aria-invalid"); }
  }

  function showError(wrapper, name, message, prefix) {
    var error = document.createElement("p");
    error.className = "field-error";
    error.id = name + "-error";
    var hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = prefix;
    error.appendChild(hidden);
    error.appendChild(document.createTextNode(" " + message));
    // After the question, its note and its hint, as the server places it.
    var after = null;
    for (var c = wrapper.firstElementChild; c; c = c.nextElementSibling) {
      if (/^(LEGEND|LABEL)$/.test(c.tagName) || c.classList.contains("hint") || c.classList.contains("follow-up-note")) { after = c; }
    }
    wrapper.insertBefore(error, after ? after.nextSibling : wrapper.firstChild);
    wrapper.classList.add("has-error");
    var target = fieldTarget(wrapper);
    if (target) {
      var ids = (target.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      ids.push(error.id);
      target.setAttribute("aria-describedby", ids.join(" "));
      if (target.tagName !== "FIELDSET") { target.setAttribute("aria-invalid", "true"); }
    }
  }

  function isAnswered(form, name) {
    var fields = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < fields.length; i++) {
      var el = fields[i];
      if (el.type === "hidden") { continue; }
      if (el.type === "radio" || el.type === "checkbox") { if (el.checked) { return true; } }
      else if (el.value.trim()) { return true; }
    }
    return false;
  }

  function jsonAttribute(element, name) {
    try { return JSON.parse(element.getAttribute(name) || "null"); } catch (e) { return null; }
  }

  // Check one step; show its errors next to the fields and a summary at its top.
  function checkStep(form, section, text) {
    var wrappers = section.querySelectorAll(".question");
    for (var w = 0; w < wrappers.length; w++) { clearError(wrappers[w]); }
    clearStepSummary();
    var pageSummary = document.getElementById("error-summary");
    if (pageSummary) { pageSummary.parentNode.removeChild(pageSummary); }
    // A returning patient's ticked "still true" confirms answers left empty here: the server checks those.
    var tick = section.querySelector(".carried-confirm input[type=checkbox]");
    var lenient = tick && tick.checked;
    var problems = [];
    var required = jsonAttribute(section, "data-required") || {};
    Object.keys(required).forEach(function (name) {
      var wrapper = document.getElementById("q-" + name);
      if (!wrapper || wrapper.hidden || isAnswered(form, name)) { return; }
      if (lenient && wrapper.tagName === "FIELDSET") { return; }
      problems.push({ name: name, wrapper: wrapper, message: required[name] });
    });
    var oneOf = jsonAttribute(section, "data-one-of");
    if (oneOf && !oneOf.fields.some(function (name) { return isAnswered(form, name); })) {
      var first = document.getElementById("q-" + oneOf.fields[0]);
      if (first) { problems.push({ name: oneOf.fields[0], wrapper: first, message: oneOf.message }); }
    }
    if (!problems.length) { return true; }
    // In page order, as the server lists them.
    problems.sort(function (a, b) {
      return a.wrapper.compareDocumentPosition(b.wrapper) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
    });
    var summary = document.createElement("div");
    summary.className = "error-summary";
    summary.id = "step-error-summary";
    summary.setAttribute("role", "alert");
    summary.setAttribute("tabindex", "-1");
    summary.setAttribute("aria-labelledby", "step-error-summary-title");
    var title = document.createElement("h3");
    title.id = "step-error-summary-title";
    title.textContent = text("errors");
    summary.appendChild(title);
    var list = document.createElement("ul");
    problems.forEach(function (problem) {
      showError(problem.wrapper, problem.name, problem.message, text("error-prefix"));
      var input = problem.wrapper.querySelector("input, textarea, select");
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "#" + (input ? input.id : problem.name);
      link.textContent = fieldLabel(problem.wrapper) + " – " + problem.message;
      item.appendChild(link);
      list.appendChild(item);
    });
    summary.appendChild(list);
    var heading = section.querySelector("h2");
    section.insertBefore(summary, heading ? heading.nextSibling : section.firstChild);
    document.title = text("error") + ": " + document.title;
    summary.addEventListener("click", followSummaryLink);
    summary.focus();
    return false;
  }

  // A link in an error summary focuses its field and shows the field's question.
  function followSummaryLink(event) {
    var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
    if (!link) { return; }
    var input = document.getElementById(link.getAttribute("href").slice(1));
    if (!input) { return; }
    event.preventDefault();
    stepsOpen(input);
    var question = input.closest(".question") || input;
    question.scrollIntoView();
    input.focus({ preventScroll: true });
  }

  // Errors: move focus to the summary so screen readers announce it.
  function focusErrorSummary() {
    var summary = document.getElementById("error-summary");
    if (!summary) { return; }
    summary.focus();
    summary.addEventListener("click", followSummaryLink);
  }

  function setUpButtons() {
    var copy = document.querySelectorAll("[data-copy]");
    for (var i = 0; i < copy.length; i++) {
      (function (button) {
        var target = document.getElementById(button.getAttribute("data-copy"));
        if (!target || !navigator.clipboard) { return; }
        var status = button.parentNode.querySelector(".copy-status");
        button.hidden = false;
        button.addEventListener("click", function () {
          // A field (the set-password link) copies its value, other elements their text.
          var text = "value" in target ? target.value : target.textContent;
          navigator.clipboard.writeText(text.trim()).then(function () {
            if (status) { status.textContent = button.getAttribute("data-copied") || ""; }
          }, function () {
            // No permission: the code stays selectable by hand.
            if (status) { status.textContent = ""; }
          });
        });
      })(copy[i]);
    }
    var print = document.querySelectorAll(".print-button");
    for (var j = 0; j < print.length; j++) {
      print[j].hidden = false;
      print[j].addEventListener("click", function () { window.print(); });
    }
  }

  // Keyboard shortcuts on a screening's page: a key follows the link or
  // presses the button marked data-shortcut, unless the focus is in a field.
  // A decision that needs more (data-needs: a date, a reason) goes to the
  // first of those fields left empty instead, and once they are filled in,
  // to the decision's button (Enter then records it).
  function firstEmpty(target) {
    var needs = (target.getAttribute("data-needs") || "").split(" ");
    for (var n = 0; n < needs.length; n++) {
      var field = needs[n] && document.getElementById(needs[n]);
      if (field && !field.value) { return field; }
    }
    return null;
  }

  function setUpShortcuts() {
    var targets = document.querySelectorAll("[data-shortcut]");
    if (!targets.length) { return; }
    var byKey = {};
    for (var i = 0; i < targets.length; i++) { byKey[targets[i].getAttribute("data-shortcut")] = targets[i]; }
    var list = document.querySelector(".shortcuts");
    if (list) { list.hidden = false; }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) { return; }
      var active = document.activeElement;
      if (active && (/^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) || active.isContentEditable)) { return; }
      var target = byKey[(event.key || "").toLowerCase()];
      if (!target) { return; }
      event.preventDefault();
      var empty = firstEmpty(target);
      if (!empty) { target.click(); return; }
      pending = target;
      empty.focus();
    });
    var pending = null;
    document.addEventListener("change", function () {
      if (!pending) { return; }
      var empty = firstEmpty(pending);
      (empty || pending).focus();
      if (!empty) { pending = null; }
    });
  }

  // Kiosk mode (a reception tablet: data-kiosk on <body>). After the idle time
  // without a touch, and on "Done", the page asks the server to forget the
  // patient and replaces itself with the start page, so Back finds nothing.
  function kioskReset(body) {
    var start = body.getAttribute("data-kiosk-start") || "/";
    var done = body.getAttribute("data-kiosk-done");
    var token = document.querySelector('input[name="csrf_token"]');
    var leave = function () { location.replace(start); };
    if (!done || !token || !window.fetch) { leave(); return; }
    var data = new FormData();
    data.append("csrf_token", token.value);
    fetch(done, { method: "POST", body: data, credentials: "same-origin" }).then(leave, leave);
  }

  function setUpKiosk() {
    var body = document.body;
    if (!body.hasAttribute("data-kiosk")) { return; }
    var start = body.getAttribute("data-kiosk-start") || "/";
    var onStart = location.pathname === start;
    var seconds = parseFloat(body.getAttribute("data-kiosk-idle")) || 120;
    var timer = null;
    function restart() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { kioskReset(body); }, seconds * 1000);
    }
    if (!onStart) {
      ["pointerdown", "keydown", "input", "scroll", "touchstart"].forEach(function (name) {
        document.addEventListener(name, restart, { passive: true, capture: true });
      });
      restart();
    }
    var doneForm = document.querySelector(".kiosk-done-form");
    if (doneForm) {
      doneForm.addEventListener("submit", function (event) { event.preventDefault(); kioskReset(body); });
    }
    // Leaving a page empties its forms, so a copy the browser keeps for Back holds no answers;
    // a page shown again from that copy gives way to the start page.
    window.addEventListener("pagehide", function () {
      Array.prototype.forEach.call(document.forms, function (form) { form.reset(); });
    });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && !onStart) { location.replace(start); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // The result is shown: the answers kept for this tab have done their work.
    if (document.body.classList.contains("result-page")) { forgetAnswers(null); }
    setUpQuestionnaire();
    focusErrorSummary();
    setUpButtons();
    setUpShortcuts();
    setUpKiosk();
  });
})();
