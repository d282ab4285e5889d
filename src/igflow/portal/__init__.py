"""The patient's side: requests to the team (reschedule, cancel, call back) and their answers."""
