"""Prescribers and payers: the people and organisations around a patient's therapy."""
