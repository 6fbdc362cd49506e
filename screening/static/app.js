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
  }

  // Errors: move focus to the summary so screen readers announce it.
  function focusErrorSummary() {
    var summary = document.getElementById("error-summary");
    if (!summary) { return; }
    summary.focus();
    // A link in the summary focuses its field and shows the field's question.
    summary.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
      if (!link) { return; }
      var input = document.getElementById(link.getAttribute("href").slice(1));
      if (!input) { return; }
      event.preventDefault();
      var question = input.closest(".question") || input;
      question.scrollIntoView();
      input.focus({ preventScroll: true });
    });
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
          navigator.clipboard.writeText(target.textContent.trim()).then(function () {
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

  // The review form: the override's fields only while "override" is chosen.
  function setUpReviewForm() {
    var form = document.querySelector("form.review-form");
    if (!form) { return; }
    var fields = form.querySelector(".override-fields");
    if (!fields) { return; }
    function update() {
      var chosen = form.querySelector('input[name="decision"]:checked');
      fields.hidden = !(chosen && chosen.value === "override");
    }
    form.addEventListener("change", update);
    update();
  }

  // Keyboard shortcuts on a screening's page: a key follows the link or
  // presses the button marked data-shortcut, unless the focus is in a field.
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
      target.click();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpQuestionnaire();
    focusErrorSummary();
    setUpButtons();
    setUpReviewForm();
    setUpShortcuts();
  });
})();
