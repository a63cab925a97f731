"""The Mynaportal app as a person meets it: screens ①-⑬ as a state machine over a backend.

``texts`` (every text, Japanese to the letter of the user's document, and English; the tables
in ``texts_seed`` and ``texts_app``, what a text is in ``texts_model``),
``screens`` (what a screen shows), ``events`` (what a person does), ``flows`` (the rules:
:class:`~.flows.PhoneApp`), ``render`` (a state as a screen), ``messages`` (what an error
reads as), ``backend`` (the Protocol the app drives) and ``fake`` (a deterministic in-memory
world).
"""
