"""Prior authorisation: requests to a payer, their packets, decisions, appeals and re-authorisation."""
