"""Delivery: subscriptions, digest composition, the outbox and SMTP sending.

- `subscriptions`: double opt-in, manage, pause, unsubscribe (SQL on `subscriptions`).
- `periods`: which period a subscription is due for.
- `candidates`: the papers a digest may hold (trending SQL, saved searches).
- `compose`: the emails themselves (pure).
- `outbox`: due digests → outbox rows (exactly one per subscription and period).
- `sender`: outbox rows → SMTP, crash-safe.
- `mailer`: the SMTP client.
`paperfeed.delivery.digest` ties them together for the CLI, the scheduler and the web app.
"""
