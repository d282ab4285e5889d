"""Pure scheduling core (no database, no HTTP, no clock): follows ``../shared/contracts/schedule.md``.

Public API for the application layer:

* ``models``: ``Instance``, ``Schedule`` (contract documents, unknown keys rejected),
  ``load_instance``, ``load_schedule``, ``dump_document``, ``format_validation_error``.
* ``evaluate.evaluate(instance, schedule) -> Evaluation`` (violations + ``Figures``),
  ``evaluate.compare(a, b)`` (lexicographic order of the contract).
* ``greedy.solve_greedy(instance) -> Schedule`` (front-desk baseline).
* ``cpsat.solve(instance, SolveOptions(...), progress=None, warm_start=None) -> Schedule``.
* ``suggest.SlotIndex(instance, schedule).suggest(course, top=5) -> list[SlotOption]``;
  ``SlotIndex.book(option, course)``.
* ``generator.generate(seed, load, sites, days, chair_minutes=...) -> Instance`` (synthetic data).
"""
