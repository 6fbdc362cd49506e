"""The screening itself, with no web framework and no database: the rule
model and its loader, the engine, conditions, and the facts about people."""
