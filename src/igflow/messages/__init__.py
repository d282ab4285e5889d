"""Messages that really go out: an outbox table that every message is written to first, and a sender job
that delivers it (email over SMTP, SMS through a provider interface, or the staff mailbox page in the
demo), recording each attempt."""
