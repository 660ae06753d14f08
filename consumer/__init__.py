"""zeeg-consumer: erase Zeeg CRM records when upstream systems delete a person."""

__version__ = "0.1.0"
