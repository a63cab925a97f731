"""The browser phone simulator (``/simulator/``): server-rendered pages over ``phone.app``.

Public entry points: :func:`~mobile_jpki.web.simulator.create_simulator_router` (mount it in
the API app) and :func:`~mobile_jpki.web.simulator.create_simulator_app` (stand-alone).
"""
