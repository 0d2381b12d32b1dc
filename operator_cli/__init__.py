"""`telepay`: the operator's command line (channels, users, support access, webhook, dead letters).

Not part of any deployed function: it works through the same storage port (`telepay.core.store`) as the
functions, on the local stack (`--endpoints .local/endpoints.json`) or a real project.
"""
