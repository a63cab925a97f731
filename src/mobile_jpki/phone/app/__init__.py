"""The Mynaportal app as a person meets it: screens ①-⑬ as a state machine over a backend.

``texts`` (every text, Japanese to the letter of the user's document, and English),
``screens`` (what a screen shows), ``flows`` (the rules: :class:`~.flows.PhoneApp`),
``backend`` (the Protocol the app drives) and ``fake`` (a deterministic in-memory world).
"""
