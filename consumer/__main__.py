"""python -m consumer: the zeeg-consumer command."""

from consumer.cli import run_main

run_main()
