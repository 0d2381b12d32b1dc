"""TelePay's contracts: the single source of names, documents, messages, task payloads and ids.

Every function, the local stack, the generated docs and the Terraform checks read from here.
"""
