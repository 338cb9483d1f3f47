"""The course workflow: one patient followed over weeks (pure, explicit ``as_of``).

``assess`` (the entry point) reviews the recorded events (``review``: set aside, held,
entered in error; ``events``: the input rules of a case), rebuilds the patient at
``as_of`` (``state``, ``rebuild``), and judges the phase (``induction``), the active
orders (``orders``, through the shared order judgement of ``engine/order_check``), the
doses given (``doses``), the tests due (``monitoring``), toxicity (``toxicity``), the
virologic response (``response``) and maintenance (``maintenance``); ``data`` turns
the review into findings.
"""
