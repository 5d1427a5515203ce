"""`obskit demo`: the whole loop on one machine, without Docker (see :mod:`obskit.demo.runner`)."""
