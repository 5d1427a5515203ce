"""A compose-shaped harness: the generated ``docker-compose.yml`` run on real servers in Linux
namespaces, for the end-to-end tests (:mod:`tests.stack.harness.stack`)."""
