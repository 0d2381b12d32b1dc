"""TelePay's shared runtime: business logic (plain functions) and adapters (Firestore, Pub/Sub,
Cloud Tasks, Telegram, NowPayments). Every function bundle carries this package and
`shared_schemas`; the functions' `main.py` files only parse, authenticate and call in here."""
