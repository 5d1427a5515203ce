"""The demo shop: five instrumented Flask services and a simulated third-party payment gateway.

``python -m demo_services`` starts them all on loopback (each under ``obskit instrument``);
``python -m demo_services.load`` sends them traffic. Ports come from ``demo_services/obskit.yaml``
(or the spec given with ``--spec``)."""
