"""terraform/ against shared_schemas, the code and the provider schema (Terraform cannot run here).

The tables in terraform/locals.tf mirror shared_schemas; these tests compare them both ways (all
declared, nothing extra), check how the resources use them, check every block against the
provider schema extracted offline (tests/infra/fixtures/provider_schema.json), and run checkov.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic.fields import FieldInfo

from shared_schemas.config import (
    FUNCTION_SETTINGS,
    SettlementSettings,
    StarsPriceSettings,
    StarsSettings,
    is_secret,
)
from shared_schemas.documents import DOCUMENTS, all_composite_indexes, all_unindexed_fields
from shared_schemas.names import (
    DEAD_LETTER_SUBSCRIPTIONS,
    FUNCTIONS,
    QUEUES,
    SCHEDULER_JOBS,
    SUBSCRIPTIONS,
    TOPICS,
    Function,
    FunctionSpec,
    Queue,
)
from shared_schemas.telegram import ALLOWED_UPDATES
from tests.infra import terraform_checks as tc

ROOT = tc.ROOT
FUNCTION_NAMES = {spec.name.value for spec in FUNCTIONS}
PUBLIC_FUNCTIONS = {spec.name.value for spec in FUNCTIONS if spec.public}

# Settings only the local stack sets (their descriptions say "(local only)"); never in Terraform.
LOCAL_ONLY = {
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "CLOUD_TASKS_EMULATOR_HOST",
    "TELEPAY_CLOCK_OFFSET_FILE",
}
# Optional settings whose defaults only fit the local stack: production must set them.
# (TASKS_TOKEN_FROM_QUEUE: the queues add the OIDC token, so no TASKS_INVOKER_SERVICE_ACCOUNT.)
PRODUCTION_REQUIRED = {"tasks_location", "tasks_token_from_queue", "task_caller_service_account"}
# URL settings that name a function's URL differently from `<function>_url`.
URL_SETTING_TARGETS = {"IPN_CALLBACK_URL": "ipn_handler"}
# URL settings of external services (not functions).
EXTERNAL_URL_SETTINGS = {"TELEGRAM_API_BASE_URL", "NOWPAYMENTS_API_BASE_URL"}
Locals = dict[str, Any]
TELEGRAM_BULK_LIMIT_PER_SECOND = 30  # about 30 messages/s per bot (REFERENCE.md)


@pytest.fixture(scope="module")
def tf() -> tc.Terraform:
    return tc.load()


@pytest.fixture(scope="module")
def locals_(tf: tc.Terraform) -> Locals:
    return tf.locals


def ref(text: str) -> str:
    return "${" + text + "}"


def settings_fields(function: str) -> dict[str, FieldInfo]:
    return dict(FUNCTION_SETTINGS[Function(function)].model_fields)


# --- Structure and provider schema ------------------------------------------------------------------


def test_provider_versions_are_pinned_to_a_range(tf: tc.Terraform) -> None:
    (settings,) = tf.settings
    assert re.fullmatch(r">= ?1\.\d+\.\d+, ?< ?2\.0\.0", settings["required_version"])
    (providers,) = settings["required_providers"]
    assert providers["google"]["source"] == "hashicorp/google"
    fixture_version = tc.provider_schema()["_providers"]["google"]["terraform_provider"].split()[-1]
    assert providers["google"]["version"] == f">= {fixture_version}, < 7.0.0"
    assert providers["google-beta"]["source"] == "hashicorp/google-beta"
    assert providers["google-beta"]["version"] == providers["google"]["version"]
    for name in ("archive", "time"):
        assert providers[name]["source"] == f"hashicorp/{name}"
        fixture_version = tc.provider_schema()["_providers"][name]["terraform_provider"].split()[-1]
        bounds = re.fullmatch(r">= ([\d.]+), < ([\d.]+)", providers[name]["version"])
        assert bounds, providers[name]["version"]
        low, high = (tuple(int(part) for part in bound.split(".")) for bound in bounds.groups())
        assert low <= tuple(int(part) for part in fixture_version.split(".")) < high, name


def test_providers_are_ready_for_user_credentials(tf: tc.Terraform) -> None:
    """With `gcloud auth application-default login`, APIs needing a quota project bill this one."""
    assert set(tf.providers) == {"google", "google-beta"}
    for name, body in tf.providers.items():
        assert body["user_project_override"] is True, name
        assert body["billing_project"] == ref("var.project_id"), name
        assert body["project"] == ref("var.project_id"), name
        assert body["region"] == ref("var.region"), name


def test_provider_blocks_match_the_provider_schema(tf: tc.Terraform) -> None:
    schema = tc.provider_schema()["provider"]
    problems = []
    for name, body in tf.providers.items():
        problems += tc.schema_problems(body, schema[name], f"provider {name}")
    assert not problems, "\n".join(problems)


def test_beta_only_types_use_the_beta_provider(tf: tc.Terraform) -> None:
    schema = tc.provider_schema()
    for block in tf.all_blocks():
        origin = schema[block.kind][block.type]["provider"]
        if origin == "google-beta":
            assert tc.expr(block.body.get("provider", "")) == "google-beta", block.address
        else:
            assert "provider" not in block.body, f"{block.address}: {origin} needs no provider argument"


def test_the_provider_lock_step_is_documented() -> None:
    """No .terraform.lock.hcl can be written offline: the first operator writes and commits it."""
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    assert "terraform providers lock" in readme
    for platform in ("linux_amd64", "darwin_arm64"):
        assert f"-platform={platform}" in readme
    assert ".terraform.lock.hcl" in readme
    assert ".terraform.lock.hcl" not in (tc.TERRAFORM_DIR / ".gitignore").read_text().split()


def test_every_block_matches_the_provider_schema(tf: tc.Terraform) -> None:
    schema = tc.provider_schema()
    problems = []
    for block in tf.all_blocks():
        kind_schema = schema[block.kind].get(block.type)
        if kind_schema is None:
            problems.append(
                f"{block.address}: type not in {tc.SCHEMA_FIXTURE.name}; "
                "run scripts/extract_provider_schema.py to add it"
            )
            continue
        problems += tc.schema_problems(block.body, kind_schema, f"{block.file}: {block.address}")
    assert not problems, "\n".join(problems)


def test_references_name_declared_blocks_and_existing_attributes(tf: tc.Terraform) -> None:
    schema = tc.provider_schema()
    problems = []
    texts = [text for block in tf.all_blocks() for text in tc.strings(block.body)]
    texts += [text for body in tf.outputs.values() for text in tc.strings(body)]
    texts += list(tc.strings(tf.locals))
    for text in texts:
        for type_, name, _, path in tc.RESOURCE_REFERENCE.findall(text):
            if (type_, name) not in tf.resources:
                problems.append(f"{type_}.{name} is referenced but not declared")
            elif path:
                problem = tc.attribute_path_problem(schema["resource"][type_], path)
                if problem:
                    problems.append(f"{type_}.{name}{path}: {problem}")
        for type_, name, _, path in tc.DATA_REFERENCE.findall(text):
            if (type_, name) not in tf.data:
                problems.append(f"data.{type_}.{name} is referenced but not declared")
            elif path:
                problem = tc.attribute_path_problem(schema["data"][type_], path)
                if problem:
                    problems.append(f"data.{type_}.{name}{path}: {problem}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_variables_and_locals_are_declared_and_used(tf: tc.Terraform) -> None:
    used_vars = tc.references_outside(tf, tc.VAR_REFERENCE, None)
    assert used_vars <= set(tf.variables), f"undeclared variables: {used_vars - set(tf.variables)}"
    for name in tf.variables:
        assert name in tc.references_outside(tf, tc.VAR_REFERENCE, ("variable", name)), (
            f"var.{name} is unused"
        )
    used_locals = tc.references_outside(tf, tc.LOCAL_REFERENCE, None)
    assert used_locals <= set(tf.locals), f"undeclared locals: {used_locals - set(tf.locals)}"
    for name in tf.locals:
        assert name in tc.references_outside(tf, tc.LOCAL_REFERENCE, ("local", name)), (
            f"local.{name} is unused"
        )
    every_text = [t for b in tf.all_blocks() for t in tc.strings(b.body)]
    every_text += list(tc.strings(tf.locals)) + [t for o in tf.outputs.values() for t in tc.strings(o)]
    for type_, name in tf.data:
        assert any(f"data.{type_}.{name}" in t for t in every_text), f"data.{type_}.{name} is unused"


def test_variables_are_documented_and_typed(tf: tc.Terraform) -> None:
    for name, body in tf.variables.items():
        assert body.get("description"), f"var.{name} has no description"
        assert body.get("type"), f"var.{name} has no type"
    assert set(tf.variables) >= {"project_id", "region", "telegram_bot_username"}


# --- Functions --------------------------------------------------------------------------------------------


def test_functions_table_mirrors_names(locals_: Locals) -> None:
    table = locals_["functions"]
    assert set(table) == FUNCTION_NAMES
    for spec in FUNCTIONS:
        row = table[spec.name.value]
        assert row["entry_point"] == spec.entry_point
        assert row["trigger"] == spec.trigger
        assert row["public"] is spec.public
        assert row["description"] == spec.description


def test_names_triggers_agree_with_their_wiring() -> None:
    """A function's trigger in names.py is backed by the queue, job or subscription calling it."""
    callers = {
        "task": {q.target.value for q in QUEUES},
        "scheduler": {j.target.value for j in SCHEDULER_JOBS},
        "pubsub-push": {s.push_to.value for s in SUBSCRIPTIONS},
        "http-public": PUBLIC_FUNCTIONS,
    }
    for spec in FUNCTIONS:
        assert spec.name.value in callers[spec.trigger], f"{spec.name}: nothing triggers it as {spec.trigger}"


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name.value)
def test_entry_point_is_a_top_level_def_in_the_function_code(spec: FunctionSpec) -> None:
    path = ROOT / "functions" / spec.name.value / "main.py"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    tree = ast.parse(path.read_text(), filename=str(path))
    defs = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert spec.entry_point in defs, f"no top-level `def {spec.entry_point}` in {path.relative_to(ROOT)}"


def test_functions_are_deployed_from_their_bundles_named_by_content(tf: tc.Terraform) -> None:
    archive = tf.data[("archive_file", "bundle")].body
    assert archive["for_each"] == ref("local.functions")
    assert archive["type"] == "zip"
    assert archive["source_dir"] == "${local.bundles_dir}/${each.key}"
    assert "build/bundles" in tf.locals["bundles_dir"]
    obj = tf.resource("google_storage_bucket_object", "bundle")
    assert obj["for_each"] == ref("local.functions")
    assert obj["name"] == "${each.key}-${data.archive_file.bundle[each.key].output_md5}.zip"
    assert obj["source"] == ref("data.archive_file.bundle[each.key].output_path")

    function = tf.resource("google_cloudfunctions2_function", "function")
    assert function["for_each"] == ref("local.functions")
    assert function["name"] == ref("each.key")
    build = tc.single_block(function, "build_config")
    assert build["entry_point"] == ref("each.value.entry_point")
    (storage,) = build["source"][0]["storage_source"]
    assert storage["object"] == ref("google_storage_bucket_object.bundle[each.key].name")
    assert storage["bucket"] == ref("google_storage_bucket.function_sources.name")
    requires_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    version = re.search(r">=\s*(\d+)\.(\d+)", requires_python)
    assert version, requires_python
    major, minor = version.groups()
    assert build["runtime"] == f"python{major}{minor}"


def test_every_function_has_its_own_service_account(tf: tc.Terraform) -> None:
    accounts = tf.resource("google_service_account", "function")
    assert accounts["for_each"] == ref("local.functions")
    assert accounts["account_id"] == 'fn-${replace(each.key, "_", "-")}'
    ids = {f"fn-{name.replace('_', '-')}" for name in FUNCTION_NAMES}
    assert len(ids) == len(FUNCTION_NAMES)
    caller_id = tf.resource("google_service_account", "caller")["account_id"]
    assert caller_id == ref('replace(each.key, "_", "-")')
    ids |= {name.replace("_", "-") for name in tf.locals["callers"]}
    ids.add(tf.resource("google_service_account", "function_builder")["account_id"])
    for account_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account_id), account_id
    service = tc.single_block(tf.resource("google_cloudfunctions2_function", "function"), "service_config")
    assert service["service_account_email"] == ref("google_service_account.function[each.key].email")


def test_function_capacity_and_timeouts_fit_their_callers(tf: tc.Terraform, locals_: Locals) -> None:
    table = locals_["functions"]
    service = tc.single_block(tf.resource("google_cloudfunctions2_function", "function"), "service_config")
    assert service["min_instance_count"] == ref("each.value.min_instances")
    assert service["max_instance_count"] == ref("each.value.max_instances")
    assert service["timeout_seconds"] == ref("each.value.timeout_seconds")
    # Cloud Run's concurrency and gunicorn's threads are both the figure names.py gives.
    assert service["max_instance_request_concurrency"] == ref("each.value.concurrency")
    assert tc.expr(service["environment_variables"]) == (
        "merge(local.function_env[each.key], {THREADS = tostring(each.value.concurrency)})"
    )
    for spec in FUNCTIONS:
        row = table[spec.name.value]
        assert row["concurrency"] == spec.concurrency, spec.name
        if spec.concurrency > 1:  # Cloud Run refuses a concurrency above 1 on less than one CPU
            assert row["cpu"] is not None and float(row["cpu"]) >= 1, spec.name
    # The two webhook targets stay warm (Telegram's and NowPayments' time budgets); no other does
    # (the owner app is public too, but a person waits for it, not a sender's timeout).
    for name, row in table.items():
        if name in {"telegram_webhook", "ipn_handler"}:
            assert row["min_instances"] == ref("var.public_min_instances")
        else:
            assert row["min_instances"] == 0, name
    assert tf.variables["public_min_instances"]["default"] >= 1
    # 0 is allowed (a development project); fractions are not.
    (validation,) = tf.variables["public_min_instances"]["validation"]
    assert "var.public_min_instances >= 0" in tc.expr(validation["condition"])
    for target in {queue.target for queue in QUEUES}:
        concurrency = sum(queue.max_concurrent_dispatches for queue in QUEUES if queue.target is target)
        assert table[target.value]["max_instances"] >= concurrency, target
    for job in SCHEDULER_JOBS:
        assert table[job.target.value]["timeout_seconds"] <= job.attempt_deadline_seconds, job.name
    for subscription in SUBSCRIPTIONS:
        assert table[subscription.push_to.value]["timeout_seconds"] <= subscription.ack_deadline_seconds


def test_function_urls_are_the_deterministic_run_app_urls(tf: tc.Terraform) -> None:
    """https://<service>-<project number>.<region>.run.app, the service being the function's name
    with "_" as "-": known before deploy, admitted by internal ingress, accepted as OIDC audience."""
    services = tc.expr(tf.locals["run_services"])
    assert services == '{for name in keys(local.functions) : name => replace(name, "_", "-")}'
    hosts = tc.expr(tf.locals["function_hosts"])
    assert "for name, service in local.run_services" in hosts
    assert "${service}-${data.google_project.this.number}.${var.region}.run.app" in hosts
    assert tc.expr(tf.locals["function_urls"]) == (
        '{for name, host in local.function_hosts : name => "https://${host}"}'
    )
    assert "cloudfunctions.net" not in json.dumps(tf.locals)
    lifecycle = tc.single_block(tf.resource("google_cloudfunctions2_function", "function"), "lifecycle")
    (precondition,) = lifecycle["precondition"]
    assert "<= 63" in tc.expr(precondition["condition"])
    (postcondition,) = lifecycle["postcondition"]
    condition = tc.expr(postcondition["condition"])
    assert "self.service_config[0].service" in condition
    assert "/services/${local.run_services[each.key]}" in condition
    for name in FUNCTION_NAMES:
        assert len(f"{name.replace('_', '-')}-{10**12}") <= 63


def test_every_caller_uses_the_run_app_url_as_target_and_audience(tf: tc.Terraform) -> None:
    job = tc.single_block(tf.resource("google_cloud_scheduler_job", "job"), "http_target")
    # A job may call a path of its function (reconciliation's /reconcile); the token names the function.
    assert job["uri"] == "${local.function_urls[each.value.target]}${each.value.path}"
    assert job["oidc_token"][0]["audience"] == ref("local.function_urls[each.value.target]")
    push = tc.single_block(tf.resource("google_pubsub_subscription", "push"), "push_config")
    assert push["push_endpoint"] == ref("local.function_urls[each.value.push_to]")
    assert push["oidc_token"][0]["audience"] == push["push_endpoint"]
    queue = tc.single_block(tf.resource("google_cloud_tasks_queue", "queue"), "http_target")
    assert queue["uri_override"][0]["host"] == ref("local.function_hosts[each.value.target]")
    assert queue["oidc_token"][0]["audience"] == ref("local.function_urls[each.value.target]")
    for block in tf.all_blocks():
        for text in tc.strings(block.body):
            assert not re.search(r"google_cloudfunctions2_function\.function\[[^\]]+\]\.url", text), (
                f"{block.address} calls a function at its cloudfunctions.net URL"
            )


def test_private_functions_take_internal_traffic_only(tf: tc.Terraform) -> None:
    """Their callers are Cloud Tasks, Cloud Scheduler and Pub/Sub push in the same project, which
    Cloud Run admits through internal-only ingress at the run.app URL (README.md explains)."""
    service = tc.single_block(tf.resource("google_cloudfunctions2_function", "function"), "service_config")
    assert tc.expr(service["ingress_settings"]) == ('each.value.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"')
    private = FUNCTION_NAMES - PUBLIC_FUNCTIONS
    assert len(private) == 6
    triggers = {spec.name.value: spec.trigger for spec in FUNCTIONS}
    assert {triggers[name] for name in private} <= {"task", "scheduler", "pubsub-push"}
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    assert "cloud.google.com/run/docs/securing/ingress" in readme


def test_runtime_and_its_update_policy_are_explicit(tf: tc.Terraform) -> None:
    build = tc.single_block(tf.resource("google_cloudfunctions2_function", "function"), "build_config")
    assert build["automatic_update_policy"] == [{}]  # an empty block: automatic updates, stated
    assert "on_deploy_update_policy" not in build
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    assert "python312" in readme and "automatic_update_policy" in readme


def test_environment_is_exactly_what_each_settings_model_declares(tf: tc.Terraform, locals_: Locals) -> None:
    env, secrets = locals_["function_env"], locals_["function_secrets"]
    assert set(env) == set(secrets) == FUNCTION_NAMES
    marked_local_only = set()
    for name in sorted(FUNCTION_NAMES):
        fields = settings_fields(name)
        cls = FUNCTION_SETTINGS[Function(name)]
        local_only = {f for f, info in fields.items() if "(local only)" in (info.description or "")}
        marked_local_only |= {f.upper() for f in local_only}
        secret = {f for f in fields if is_secret(cls, f)}
        required = {f for f, info in fields.items() if info.is_required()}
        plain_env = set(env[name])
        assert set(secrets[name]) == {f.upper() for f in secret}, f"{name}: secrets"
        unknown = plain_env - {f.upper() for f in fields}
        assert not unknown, f"{name}: not in {cls.__name__}: {unknown}"
        assert not plain_env & {f.upper() for f in secret | local_only}, f"{name}: secret or local-only"
        wanted = {f.upper() for f in (required | (PRODUCTION_REQUIRED & set(fields))) - secret}
        assert wanted <= plain_env, f"{name}: missing {wanted - plain_env}"
    assert marked_local_only >= LOCAL_ONLY
    service = tc.single_block(tf.resource("google_cloudfunctions2_function", "function"), "service_config")
    # The settings' variables, and THREADS for functions-framework's gunicorn (not a setting of
    # TelePay's: test_function_capacity_and_timeouts_fit_their_callers checks it).
    assert tc.expr(service["environment_variables"]).startswith("merge(local.function_env[each.key], ")
    # Local-only names appear nowhere in terraform/ values (comments may mention them).
    for block in tf.all_blocks():
        for text in tc.strings(block.body):
            assert not any(n in text for n in LOCAL_ONLY), f"{block.address} sets a local-only variable"
    for text in tc.strings(tf.locals):
        assert not any(n in text for n in LOCAL_ONLY), "a local sets a local-only variable"


def test_code_reads_its_environment_only_through_the_settings_models() -> None:
    """Otherwise a variable the code needs could be missing from Terraform unnoticed."""
    readers = re.compile(r"\bos\.environ\b|\bgetenv\(|\benviron\[")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("telepay", "functions")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if readers.search(path.read_text())
    ]
    assert not offenders, f"read settings through shared_schemas/config.py instead: {offenders}"


def test_url_settings_point_at_the_right_function(locals_: Locals) -> None:
    for function, env in locals_["function_env"].items():
        for name, value in env.items():
            if not name.endswith("_URL") or name in EXTERNAL_URL_SETTINGS:
                continue
            target = URL_SETTING_TARGETS.get(name, name.removesuffix("_URL").lower())
            assert target in FUNCTION_NAMES, f"{function}: {name} names no function"
            assert value == ref(f'local.function_urls["{target}"]'), f"{function}: {name} = {value}"
    assert locals_["function_env"]["create_invoice"]["INVOICE_MAX_ATTEMPTS"] == ref(
        'tostring(local.queues["create-invoice"].max_attempts)'
    )


PER_FUNCTION_SETTINGS = {"TASK_CALLER_SERVICE_ACCOUNT"}  # each task target names its own queue


def test_a_setting_shared_by_functions_has_one_value(locals_: Locals) -> None:
    values: dict[str, set[str]] = {}
    for env in locals_["function_env"].values():
        for name, value in env.items():
            if name not in PER_FUNCTION_SETTINGS:
                values.setdefault(name, set()).add(str(value))
    assert {name: v for name, v in values.items() if len(v) > 1} == {}


def test_a_setting_terraform_gives_one_function_reaches_every_function_that_reads_it(
    locals_: Locals,
) -> None:
    """A function that reads a setting Terraform gives another one gets it too, or it runs on the
    default: reconciliation (expire_subscriptions) booked the default platform fee on the payments
    it settled while ipn_handler booked the configured one."""
    env = locals_["function_env"]
    given = {name for values in env.values() for name in values} - PER_FUNCTION_SETTINGS
    problems = []
    for function in sorted(FUNCTION_NAMES):
        reads = {field.upper() for field in settings_fields(function)}
        missing = sorted((given & reads) - set(env[function]))
        if missing:
            problems.append(f"{function} reads {missing}, which Terraform gives only to other functions")
    assert not problems, "\n".join(problems)


def test_every_function_that_settles_payments_gets_the_same_settlement_settings(locals_: Locals) -> None:
    settlers = sorted(
        n for n in FUNCTION_NAMES if issubclass(FUNCTION_SETTINGS[Function(n)], SettlementSettings)
    )
    # reconciliation settles too, and the bot settles Telegram Stars payments
    assert settlers == ["expire_subscriptions", "ipn_handler", "telegram_webhook"]
    names = {field.upper() for field in SettlementSettings.model_fields}
    given = [{k: v for k, v in locals_["function_env"][s].items() if k in names} for s in settlers]
    for settler, settings in zip(settlers[1:], given[1:], strict=True):
        assert settings == given[0], f"{settlers[0]} and {settler} settle on different settings"
    assert given[0]["PLATFORM_FEE_PERCENT"] == ref("var.platform_fee_percent")


def test_every_function_that_prices_or_books_stars_reads_the_same_rates(locals_: Locals) -> None:
    """The offer's Star price, the invoice's and the pre-checkout's must agree (one rate), and the
    bot and reconciliation must book a Star at the same value and hold."""
    for settings_class, expected in (
        (
            StarsPriceSettings,
            {"STARS_ENABLED": "var.stars_enabled", "STARS_USD_PRICE": "var.stars_usd_price"},
        ),
        (
            StarsSettings,
            {"STARS_PAYOUT_USD": "var.stars_payout_usd", "STARS_HOLD_DAYS": "var.stars_hold_days"},
        ),
    ):
        readers = [n for n in FUNCTION_NAMES if issubclass(FUNCTION_SETTINGS[Function(n)], settings_class)]
        assert readers, settings_class
        for reader in readers:
            env = locals_["function_env"][reader]
            for name, variable in expected.items():
                assert env.get(name) == ref(variable), f"{reader}: {name}"


def test_each_task_target_accepts_only_its_own_queues(locals_: Locals) -> None:
    for function, env in locals_["function_env"].items():
        identities = [
            f'google_service_account.queue["{spec.name.value}"].email'
            for spec in QUEUES
            if spec.target.value == function
        ]
        expected = None
        if len(identities) == 1:
            expected = ref(identities[0])
        elif identities:  # several queues target it (expire_subscriptions: telegram-actions, fan-out)
            expected = ref(f'join(",", [{", ".join(identities)}])')
        assert env.get("TASK_CALLER_SERVICE_ACCOUNT") == expected, function


def test_plain_settings_come_from_variables_or_resources(locals_: Locals) -> None:
    expected = {
        "GOOGLE_CLOUD_PROJECT": ref("var.project_id"),
        "LOG_LEVEL": ref("var.log_level"),
        "TELEGRAM_BOT_USERNAME": ref("var.telegram_bot_username"),
        "TASKS_LOCATION": ref("var.region"),
        "TASKS_TOKEN_FROM_QUEUE": "true",
        "NOWPAYMENTS_API_BASE_URL": ref("var.nowpayments_api_base_url"),
    }
    for function, env in locals_["function_env"].items():
        for name, value in env.items():
            if name in expected:
                assert value == expected[name], f"{function}: {name}"


# --- Secrets ------------------------------------------------------------------------------------------------


def test_secrets_are_the_secret_settings_and_reach_only_their_functions(
    tf: tc.Terraform, locals_: Locals
) -> None:
    secret_settings = {
        field.upper()
        for cls in FUNCTION_SETTINGS.values()
        for field in cls.model_fields
        if is_secret(cls, field)
    }
    assert set(locals_["secrets"]) == secret_settings
    for env_name, secret in locals_["secrets"].items():
        assert secret["secret_id"] == env_name.lower().replace("_", "-")
    used = {name for names in locals_["function_secrets"].values() for name in names}
    assert used == secret_settings, "every secret is used by a function"

    resource = tf.resource("google_secret_manager_secret", "secret")
    assert resource["for_each"] == ref("local.secrets")
    assert resource["deletion_protection"] is True
    accessor = tf.resource("google_secret_manager_secret_iam_member", "accessor")
    assert accessor["for_each"] == ref("local.secret_accessors")
    assert "local.function_secrets" in tc.expr(locals_["secret_accessors"])
    assert accessor["role"] == "roles/secretmanager.secretAccessor"
    assert accessor["member"] == ref("google_service_account.function[each.value.function].member")
    assert accessor["secret_id"] == ref("google_secret_manager_secret.secret[each.value.secret].id")
    # Values never pass through Terraform (state, plan).
    assert not tf.of_type("google_secret_manager_secret_version")

    service = tc.single_block(tf.resource("google_cloudfunctions2_function", "function"), "service_config")
    (dynamic,) = service["dynamic"]
    spec = dynamic["secret_environment_variables"]
    assert spec["for_each"] == ref("toset(local.function_secrets[each.key])")
    (content,) = spec["content"]
    assert content["key"] == ref("secret_environment_variables.value")
    assert content["secret"] == ref(
        "google_secret_manager_secret.secret[secret_environment_variables.value].secret_id"
    )
    assert content["version"] == ref(
        'lookup(var.secret_versions, secret_environment_variables.value, "latest")'
    )


# --- Identities, roles, invokers -------------------------------------------------------------------------------


def test_project_roles_are_few_narrow_and_explained(tf: tc.Terraform, locals_: Locals) -> None:
    roles = locals_["function_project_roles"]
    assert set(roles) == FUNCTION_NAMES
    for function, grants in roles.items():
        for role, reason in grants.items():
            assert isinstance(reason, str) and len(reason) > 15, f"{function} {role}: say why"
            assert role not in {"roles/owner", "roles/editor", "roles/viewer"}
            assert "admin" not in role.lower(), f"{function}: {role}"
    grants_resource = tf.resource("google_project_iam_member", "function")
    assert grants_resource["for_each"] == ref("local.function_project_role_grants")
    assert "local.function_project_roles" in tc.expr(locals_["function_project_role_grants"])
    # Roles that exist on single resources are never granted project-wide.
    resource_level = {
        "roles/run.invoker",
        "roles/cloudtasks.enqueuer",
        "roles/pubsub.publisher",
        "roles/pubsub.subscriber",
        "roles/secretmanager.secretAccessor",
        "roles/iam.serviceAccountUser",
        "roles/iam.serviceAccountTokenCreator",
    }
    project_roles = {role for grants in roles.values() for role in grants}
    project_roles |= {body["role"] for body in tf.of_type("google_project_iam_member").values()}
    assert not project_roles & resource_level
    for authoritative in ("google_project_iam_binding", "google_project_iam_policy"):
        assert not tf.of_type(authoritative), f"{authoritative} would drop grants made outside Terraform"
    # Every role-granting block outside locals carries a comment saying why.
    for block in tf.all_blocks():
        if "role" in block.body and block.type.endswith("_iam_member"):
            header = f'resource "{block.type}" "{block.name}"'
            text = tf.texts[block.file]
            before = text[: text.index(header)].rstrip().splitlines()[-1]
            inside = text[text.index(header) :].split("\n}\n", 1)[0]
            assert before.startswith("#") or "#" in inside, f"{block.address}: add a comment saying why"


def test_only_the_three_public_functions_are_public(tf: tc.Terraform, locals_: Locals) -> None:
    assert {n for n, row in locals_["functions"].items() if row["public"]} == PUBLIC_FUNCTIONS
    assert {"telegram_webhook", "ipn_handler", "owner_app"} == PUBLIC_FUNCTIONS
    public = tf.resource("google_cloud_run_service_iam_member", "public_invoker")
    assert (
        tc.expr(public["for_each"])
        == "toset([for name, function in local.functions : name if function.public])"
    )
    assert public["member"] == "allUsers"
    assert public["role"] == "roles/run.invoker"
    for block in tf.all_blocks():
        if block.address == "google_cloud_run_service_iam_member.public_invoker":
            continue
        for text in tc.strings(block.body):
            assert "allUsers" not in text and "allAuthenticatedUsers" not in text, block.address


def test_private_functions_are_invocable_only_by_their_callers(tf: tc.Terraform, locals_: Locals) -> None:
    expected: dict[str, set[str]] = {}
    for job in SCHEDULER_JOBS:
        expected.setdefault(job.target.value, set()).add("scheduler_invoker")
    for subscription in SUBSCRIPTIONS:
        expected.setdefault(subscription.push_to.value, set()).add("pubsub_pusher")
    declared = {name: set(callers) for name, callers in locals_["function_invokers"].items()}
    assert declared == expected
    assert set(locals_["callers"]) == {"scheduler_invoker", "pubsub_pusher"}
    # Every private function has at least one caller: a job, the push subscription or a queue.
    assert set(expected) | {q.target.value for q in QUEUES} == FUNCTION_NAMES - PUBLIC_FUNCTIONS

    invoker = tf.resource("google_cloud_run_service_iam_member", "invoker")
    assert invoker["for_each"] == ref("local.invoker_bindings")
    assert "local.function_invokers" in tc.expr(locals_["invoker_bindings"])
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["member"] == ref("google_service_account.caller[each.value.caller].member")
    assert invoker["service"] == ref(
        "google_cloudfunctions2_function.function[each.value.function].service_config[0].service"
    )
    assert tc.expr(tf.resource("google_service_account", "caller")["for_each"]) == "local.callers"


def test_scheduler_jobs_and_push_subscriptions_carry_oidc_tokens(tf: tc.Terraform) -> None:
    target = tc.single_block(tf.resource("google_cloud_scheduler_job", "job"), "http_target")
    (oidc,) = target["oidc_token"]
    assert oidc["service_account_email"] == ref('google_service_account.caller["scheduler_invoker"].email')
    assert "oauth_token" not in target
    push = tc.single_block(tf.resource("google_pubsub_subscription", "push"), "push_config")
    (oidc,) = push["oidc_token"]
    assert oidc["service_account_email"] == ref('google_service_account.caller["pubsub_pusher"].email')


def test_each_queue_has_its_own_identity_and_pins_its_target(tf: tc.Terraform) -> None:
    """An enqueuer can only reach its queue's target: the queue overrides every task's host and
    token (ALWAYS), its identity may invoke that target only, and nobody acts as it."""
    accounts = tf.resource("google_service_account", "queue")
    assert accounts["for_each"] == ref("local.queues")
    assert accounts["account_id"] == "tasks-${each.key}"
    for spec in QUEUES:
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", f"tasks-{spec.name.value}"), spec.name

    queue = tf.resource("google_cloud_tasks_queue", "queue")
    target = tc.single_block(queue, "http_target")
    assert target["http_method"] == "POST"
    (override,) = target["uri_override"]
    assert override["uri_override_enforce_mode"] == "ALWAYS"
    assert override["scheme"] == "HTTPS"
    assert override["host"] == ref("local.function_hosts[each.value.target]")
    assert "path_override" not in override  # "/" or "/task": both the target function's
    (oidc,) = target["oidc_token"]
    assert oidc["service_account_email"] == ref("google_service_account.queue[each.key].email")
    assert "oauth_token" not in target

    invoker = tf.resource("google_cloud_run_service_iam_member", "queue_invoker")
    assert invoker["for_each"] == ref("local.queues")
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["member"] == ref("google_service_account.queue[each.key].member")
    assert invoker["service"] == ref(
        "google_cloudfunctions2_function.function[each.value.target].service_config[0].service"
    )
    # Nobody may act as a queue's identity: the only grant on a service account is the Pub/Sub
    # service agent's on pubsub-pusher (minting push tokens, see the test below).
    for grant in tf.of_type("google_service_account_iam_member").values():
        assert "google_service_account.queue" not in json.dumps(grant)
        assert grant["member"] == ref("local.pubsub_service_agent")
    assert not tf.of_type("google_service_account_iam_binding")
    for env in tf.locals["function_env"].values():
        assert "TASKS_INVOKER_SERVICE_ACCOUNT" not in env


def test_invoker_grants_follow_a_replaced_function(tf: tc.Terraform) -> None:
    """Grants live on the function's Cloud Run service; a replaced function starts without them."""
    keys = {
        "public_invoker": "each.key",
        "invoker": "each.value.function",
        "queue_invoker": "each.value.target",
    }
    assert set(tf.of_type("google_cloud_run_service_iam_member")) == set(keys)
    for name, key in keys.items():
        lifecycle = tc.single_block(tf.resource("google_cloud_run_service_iam_member", name), "lifecycle")
        assert lifecycle["replace_triggered_by"] == [
            ref(f"google_cloudfunctions2_function.function[{key}].id")
        ]


def test_first_apply_waits_for_grants_to_propagate(tf: tc.Terraform) -> None:
    sleep = tf.resource("time_sleep", "grants_propagate")
    assert int(sleep["create_duration"].rstrip("s")) >= 60
    triggers = json.dumps(sleep["triggers"])
    for grant in (
        "google_project_iam_member.function_builder_logs",
        "google_project_iam_member.function_builder_staged_sources",
        "google_artifact_registry_repository_iam_member.function_builder_pushes_images",
        "google_storage_bucket_iam_member.function_builder_reads_bundles",
        "google_project_iam_member.function ",
        "google_secret_manager_secret_iam_member.accessor ",
    ):
        assert grant in triggers, f"time_sleep.grants_propagate does not wait for {grant.strip()}"
    function = tf.resource("google_cloudfunctions2_function", "function")
    assert function["depends_on"] == [ref("time_sleep.grants_propagate")]


def test_pubsub_service_agent_is_made_to_exist_before_its_grants(tf: tc.Terraform) -> None:
    identity = tf.resource("google_project_service_identity", "pubsub")
    assert identity["service"] == "pubsub.googleapis.com"
    assert tc.expr(identity["provider"]) == "google-beta"
    assert tf.locals["pubsub_service_agent"] == ref("google_project_service_identity.pubsub.member")
    assert "google_project_service_identity.pubsub" in json.dumps(
        tf.resource("time_sleep", "service_agent_exists")
    )
    for type_, name in (
        ("google_pubsub_topic_iam_member", "dead_letter_publisher"),
        ("google_pubsub_subscription_iam_member", "dead_letter_subscriber"),
    ):
        assert tf.resource(type_, name)["depends_on"] == [ref("time_sleep.service_agent_exists")]


def test_no_two_instances_of_a_grant_give_one_member_the_same_role_on_the_same_resource(
    tf: tc.Terraform,
) -> None:
    """A `*_iam_member` removes its member's role when it is destroyed, so two instances granting
    the same thing (the dead-letter publisher once per subscription, on the one dead-letter topic)
    mean that removing one (a subscription) deletes the binding the other still needs."""
    expanded = set()
    problems = []
    for (type_, name), block in sorted(tf.resources.items()):
        if not type_.endswith("_iam_member"):
            continue
        instances = tc.literal_instances(tf, block.body)
        if instances is None:
            continue  # keyed by a derived "<a>/<b>" local or an expression: one key per grant
        expanded.add(name)
        grants: dict[str, str] = {}
        for key, row in instances.items():
            granted = {
                argument: value
                for argument, value in tc.with_instance(block.body, key, row).items()
                if argument not in tc.META_ARGUMENTS
            }
            signature = json.dumps(granted, sort_keys=True)
            if signature in grants:
                problems.append(f"{type_}.{name}[{key!r}] grants what [{grants[signature]!r}] grants")
            grants.setdefault(signature, key)
    assert not problems, "\n".join(problems)
    assert {"dead_letter_publisher", "dead_letter_subscriber", "queue_invoker"} <= expanded


def test_the_pubsub_service_agent_may_mint_tokens_for_the_push_identity_only(tf: tc.Terraform) -> None:
    """Projects created before April 2021 need it for authenticated push (newer ones already have
    it): granted on pubsub-pusher's service account, never project-wide."""
    grants = tf.of_type("google_service_account_iam_member")
    assert set(grants) == {"pubsub_token_creator"}
    grant = grants["pubsub_token_creator"]
    assert grant["service_account_id"] == ref('google_service_account.caller["pubsub_pusher"].name')
    assert grant["role"] == "roles/iam.serviceAccountTokenCreator"
    assert grant["member"] == ref("local.pubsub_service_agent")
    assert "for_each" not in grant
    assert grant["depends_on"] == [ref("time_sleep.service_agent_exists")]
    for body in tf.of_type("google_project_iam_member").values():
        assert body["role"] != "roles/iam.serviceAccountTokenCreator"


# --- Pub/Sub ----------------------------------------------------------------------------------------------------


def test_topics_mirror_names(tf: tc.Terraform, locals_: Locals) -> None:
    assert {name: set(row["published_by"]) for name, row in locals_["topics"].items()} == {
        spec.name.value: {f.value for f in spec.published_by} for spec in TOPICS
    }
    assert tf.resource("google_pubsub_topic", "topic")["for_each"] == ref("local.topics")
    publisher = tf.resource("google_pubsub_topic_iam_member", "publisher")
    assert publisher["for_each"] == ref("local.topic_publishers")
    assert "local.topics" in tc.expr(locals_["topic_publishers"])
    assert publisher["role"] == "roles/pubsub.publisher"
    assert publisher["member"] == ref("google_service_account.function[each.value.function].member")


def test_push_subscriptions_mirror_names(tf: tc.Terraform, locals_: Locals) -> None:
    table = locals_["push_subscriptions"]
    assert set(table) == {spec.name for spec in SUBSCRIPTIONS}
    for spec in SUBSCRIPTIONS:
        row = table[spec.name]
        assert row == {
            "topic": spec.topic.value,
            "push_to": spec.push_to.value,
            "dead_letter_topic": spec.dead_letter_topic.value,
            "max_delivery_attempts": spec.max_delivery_attempts,
            "min_backoff_seconds": spec.min_backoff_seconds,
            "max_backoff_seconds": spec.max_backoff_seconds,
            "ack_deadline_seconds": spec.ack_deadline_seconds,
            "description": spec.description,
        }
        assert 5 <= spec.max_delivery_attempts <= 100
        assert 0 <= spec.min_backoff_seconds <= spec.max_backoff_seconds <= 600
    subscription = tf.resource("google_pubsub_subscription", "push")
    assert subscription["for_each"] == ref("local.push_subscriptions")
    assert subscription["name"] == ref("each.key")
    assert subscription["topic"] == ref("google_pubsub_topic.topic[each.value.topic].id")
    assert subscription["ack_deadline_seconds"] == ref("each.value.ack_deadline_seconds")
    assert tc.single_block(subscription, "retry_policy") == {
        "minimum_backoff": "${each.value.min_backoff_seconds}s",
        "maximum_backoff": "${each.value.max_backoff_seconds}s",
    }
    assert tc.single_block(subscription, "dead_letter_policy") == {
        "dead_letter_topic": ref("google_pubsub_topic.topic[each.value.dead_letter_topic].id"),
        "max_delivery_attempts": ref("each.value.max_delivery_attempts"),
    }
    assert tc.single_block(subscription, "expiration_policy") == {"ttl": ""}
    # Notify is pushed to by this subscription, never through an Eventarc trigger.
    function = tf.resource("google_cloudfunctions2_function", "function")
    assert "event_trigger" not in function
    assert not tf.of_type("google_eventarc_trigger")


def test_dead_letters_are_held_permitted_and_alerted(tf: tc.Terraform, locals_: Locals) -> None:
    holds = locals_["dead_letter_subscriptions"]
    assert holds == {topic.value: name for topic, name in DEAD_LETTER_SUBSCRIPTIONS.items()}
    assert {spec.dead_letter_topic.value for spec in SUBSCRIPTIONS} <= set(holds)
    hold = tf.resource("google_pubsub_subscription", "dead_letter_hold")
    assert hold["for_each"] == ref("local.dead_letter_subscriptions")
    assert hold["name"] == ref("each.value")
    assert hold["topic"] == ref("google_pubsub_topic.topic[each.key].id")
    assert "push_config" not in hold

    publisher = tf.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert publisher["for_each"] == ref("local.dead_letter_subscriptions")  # keyed by dead-letter topic
    assert publisher["topic"] == ref("google_pubsub_topic.topic[each.key].name")
    assert (publisher["role"], publisher["member"]) == (
        "roles/pubsub.publisher",
        ref("local.pubsub_service_agent"),
    )
    subscriber = tf.resource("google_pubsub_subscription_iam_member", "dead_letter_subscriber")
    assert subscriber["for_each"] == ref("local.push_subscriptions")
    assert subscriber["subscription"] == ref("google_pubsub_subscription.push[each.key].name")
    assert (subscriber["role"], subscriber["member"]) == (
        "roles/pubsub.subscriber",
        ref("local.pubsub_service_agent"),
    )

    alert = tf.resource("google_monitoring_alert_policy", "dead_letter_backlog")
    assert alert["for_each"] == ref("local.dead_letter_subscriptions")
    (condition,) = alert["conditions"]
    (threshold,) = condition["condition_threshold"]
    assert "pubsub.googleapis.com/subscription/num_undelivered_messages" in threshold["filter"]
    assert "google_pubsub_subscription.dead_letter_hold[each.key].name" in threshold["filter"]
    assert threshold["comparison"] == "COMPARISON_GT"
    assert threshold["threshold_value"] == 0
    assert alert["notification_channels"] == ref("var.alert_notification_channels")


# --- Cloud Tasks -------------------------------------------------------------------------------------------------


def test_queues_mirror_names(tf: tc.Terraform, locals_: Locals) -> None:
    table = locals_["queues"]
    assert set(table) == {spec.name.value for spec in QUEUES}
    for spec in QUEUES:
        assert table[spec.name.value] == {
            "target": spec.target.value,
            "max_dispatches_per_second": spec.max_dispatches_per_second,
            "max_concurrent_dispatches": spec.max_concurrent_dispatches,
            "max_attempts": spec.max_attempts,
            "min_backoff_seconds": spec.min_backoff_seconds,
            "max_backoff_seconds": spec.max_backoff_seconds,
            "max_doublings": spec.max_doublings,
            "enqueued_by": [f.value for f in spec.enqueued_by],
        }, spec.name
        assert spec.max_burst_size == 0, "max_burst_size is output only in Cloud Tasks; names.py sets it"
    queue = tf.resource("google_cloud_tasks_queue", "queue")
    assert queue["for_each"] == ref("local.queues")
    assert queue["name"] == ref("each.key")
    assert queue["location"] == ref("var.region")
    assert tc.single_block(queue, "rate_limits") == {
        "max_dispatches_per_second": ref("each.value.max_dispatches_per_second"),
        "max_concurrent_dispatches": ref("each.value.max_concurrent_dispatches"),
    }
    assert tc.single_block(queue, "retry_config") == {
        "max_attempts": ref("each.value.max_attempts"),
        "min_backoff": "${each.value.min_backoff_seconds}s",
        "max_backoff": "${each.value.max_backoff_seconds}s",
        "max_doublings": ref("each.value.max_doublings"),
    }


def test_queues_that_send_to_telegram_in_bulk_stay_below_its_limit_together() -> None:
    """Telegram's limit is the bot's, across every instance: the queues whose tasks send in bulk
    must stay below it together (two at 29.5/s each offered 59/s when the daily posts overlapped a
    sweep). fan-out's pages queue tasks, they send nothing."""
    answer_one_action = {Queue.CREATE_INVOICE, Queue.KEYPAD}  # one message per user's tap
    bulk = [spec for spec in QUEUES if spec.name not in answer_one_action | {Queue.FAN_OUT}]
    assert [spec.name for spec in bulk] == [Queue.TELEGRAM_ACTIONS]
    assert sum(spec.max_dispatches_per_second for spec in bulk) < TELEGRAM_BULK_LIMIT_PER_SECOND
    assert sum(spec.max_concurrent_dispatches for spec in bulk) < TELEGRAM_BULK_LIMIT_PER_SECOND


def test_enqueuers_may_enqueue_on_their_queues_only(tf: tc.Terraform, locals_: Locals) -> None:
    enqueuer = tf.resource("google_cloud_tasks_queue_iam_member", "enqueuer")
    assert enqueuer["for_each"] == ref("local.queue_enqueuers")
    assert "local.queues" in tc.expr(locals_["queue_enqueuers"])
    assert enqueuer["role"] == "roles/cloudtasks.enqueuer"
    assert enqueuer["name"] == ref("google_cloud_tasks_queue.queue[each.value.queue].name")
    assert enqueuer["member"] == ref("google_service_account.function[each.value.function].member")


def test_enqueuers_know_their_targets_url() -> None:
    for spec in QUEUES:
        for function in spec.enqueued_by:
            fields = settings_fields(function.value)
            assert "tasks_token_from_queue" in fields, f"{function} enqueues without TasksSettings"
            assert f"{spec.target.value}_url" in fields, f"{function} enqueues on {spec.name} without its URL"


# --- Cloud Scheduler -------------------------------------------------------------------------------------------


def test_scheduler_jobs_mirror_names(tf: tc.Terraform, locals_: Locals) -> None:
    table = locals_["scheduler_jobs"]
    assert set(table) == {spec.name for spec in SCHEDULER_JOBS}
    for spec in SCHEDULER_JOBS:
        row = table[spec.name]
        schedule = row["schedule"]
        if isinstance(schedule, str) and schedule.startswith("${var."):
            schedule = tf.variables[tc.expr(schedule).removeprefix("var.")]["default"]
        assert schedule == spec.schedule, spec.name
        assert row["time_zone"] == spec.time_zone
        assert row["target"] == spec.target.value
        assert row["attempt_deadline_seconds"] == spec.attempt_deadline_seconds
        assert row["description"] == spec.description
        assert row["path"] == spec.path, spec.name
        assert isinstance(row["retry_count"], int)
    assert table["expire-subscriptions-every-minute"]["schedule"] == "* * * * *"
    job = tf.resource("google_cloud_scheduler_job", "job")
    assert job["for_each"] == ref("local.scheduler_jobs")
    assert (job["schedule"], job["time_zone"]) == (ref("each.value.schedule"), ref("each.value.time_zone"))
    assert job["attempt_deadline"] == "${each.value.attempt_deadline_seconds}s"
    assert tc.single_block(job, "retry_config")["retry_count"] == ref("each.value.retry_count")


# --- Firestore ----------------------------------------------------------------------------------------------------


def test_composite_indexes_are_the_ones_the_code_needs(tf: tc.Terraform, locals_: Locals) -> None:
    expected = {
        f"{index.collection.value}-{'-'.join(f.field_path for f in index.fields)}": {
            "collection": index.collection.value,
            "fields": [{"field_path": f.field_path, "order": f.order} for f in index.fields],
        }
        for index in all_composite_indexes()
    }
    assert locals_["composite_indexes"] == expected
    resource = tf.resource("google_firestore_index", "composite")
    assert resource["for_each"] == ref("local.composite_indexes")
    assert resource["collection"] == ref("each.value.collection")
    assert resource["query_scope"] == "COLLECTION"
    (dynamic,) = resource["dynamic"]
    assert dynamic["fields"]["for_each"] == ref("each.value.fields")


def test_ttl_policies_cover_the_dedupe_records(tf: tc.Terraform, locals_: Locals) -> None:
    expected = {doc.collection.value: doc.ttl_field for doc in DOCUMENTS if doc.ttl_field}
    assert expected, "documents.py declares no TTL field"
    assert locals_["ttl_fields"] == expected
    ttl = tf.resource("google_firestore_field", "ttl")
    assert ttl["for_each"] == ref("local.ttl_fields")
    assert (ttl["collection"], ttl["field"]) == (ref("each.key"), ref("each.value"))
    assert tc.is_block(ttl["ttl_config"])


def test_index_exemptions_cover_the_timestamps_of_the_high_rate_collections(
    tf: tc.Terraform, locals_: Locals
) -> None:
    """Terraform exempts exactly the fields documents.py names from single-field indexing, one
    google_firestore_field each, with an empty index_config (no index at all)."""
    expected = {f"{c.value}/{f}": {"collection": c.value, "field": f} for c, f in all_unindexed_fields()}
    assert expected, "documents.py exempts no field"
    assert locals_["unindexed_fields"] == expected
    # A TTL field has its own google_firestore_field (already unindexed): never two for one field.
    assert not {(row["collection"], row["field"]) for row in expected.values()} & set(
        locals_["ttl_fields"].items()
    )
    field = tf.resource("google_firestore_field", "unindexed")
    assert field["for_each"] == ref("local.unindexed_fields")
    assert (field["collection"], field["field"]) == (ref("each.value.collection"), ref("each.value.field"))
    assert field["database"] == ref("google_firestore_database.database.name")
    assert tc.is_block(field["index_config"])
    (config,) = field["index_config"]
    assert not {k for k in config if not k.startswith("__")}, "index_config must be empty: no index"


def test_firestore_is_the_default_native_database(tf: tc.Terraform) -> None:
    database = tf.resource("google_firestore_database", "database")
    assert database["name"] == "(default)"
    assert database["type"] == "FIRESTORE_NATIVE"
    assert database["deletion_policy"] == "ABANDON"


# --- Retention -------------------------------------------------------------------------------------------------


def test_investigation_records_expire_with_documented_lifetimes() -> None:
    from datetime import UTC, datetime

    from shared_schemas.documents import (
        FAILED_UPDATE_RETENTION,
        OUTBOX_PUBLISHED_RETENTION,
        UNKNOWN_IPN_RETENTION,
        FailedUpdateDoc,
        OutboxDoc,
        UnknownIpnDoc,
    )

    ttl = {doc.collection.value: doc.ttl_field for doc in DOCUMENTS if doc.ttl_field}
    assert {"outbox", "unknown_ipns", "failed_updates"} <= set(ttl)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ipn = UnknownIpnDoc(
        received_at=now, order_id=None, payment_id=None, payment_status=None, reason="r", body={}
    )
    assert ipn.to_firestore()["expire_at"] == now + UNKNOWN_IPN_RETENTION
    update = FailedUpdateDoc(update_id=1, reason="r", update={}, recorded_at=now)
    assert update.to_firestore()["expire_at"] == now + FAILED_UPDATE_RETENTION
    outbox = OutboxDoc(event_id="e", topic="t", order_id="o", envelope={}, created_at=now)
    assert outbox.expire_at is None, "an unpublished event must never expire"
    # flush_outbox sets it when it publishes.
    source = (ROOT / "telepay" / "payments" / "ipn.py").read_text()
    assert '"expire_at": now + OUTBOX_PUBLISHED_RETENTION' in source
    lifetimes = ((7, OUTBOX_PUBLISHED_RETENTION), (90, UNKNOWN_IPN_RETENTION), (30, FAILED_UPDATE_RETENTION))
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    for days, constant in lifetimes:
        assert constant.days == days
        assert f"{days} days" in readme, f"README.md does not document the {days}-day retention"


# --- Seeing trouble ---------------------------------------------------------------------------------------------


def alert(tf: tc.Terraform, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An alert policy and its only threshold condition, checked for the parts every alert needs."""
    body = tf.resource("google_monitoring_alert_policy", name)
    assert body["notification_channels"] == ref("var.alert_notification_channels"), name
    assert body["combiner"] == "OR"
    (documentation,) = body["documentation"]
    assert "README.md" in documentation["content"], f"{name}: the alert must say where to look"
    (condition,) = body["conditions"]
    (threshold,) = condition["condition_threshold"]
    return body, threshold


def test_every_alert_reaches_a_channel(tf: tc.Terraform) -> None:
    for name in tf.of_type("google_monitoring_alert_policy"):
        alert(tf, name)
    variable = tf.variables["alert_notification_channels"]
    assert "default" not in variable, "alerts need a channel the operator names"
    conditions = [tc.expr(v["condition"]) for v in variable["validation"]]
    assert "length(var.alert_notification_channels) >= 1" in conditions
    example = (tc.TERRAFORM_DIR / "terraform.tfvars.example").read_text()
    assert re.search(r'^alert_notification_channels = \["projects/', example, re.M), "uncommented example"
    assert "--type=email" in example and "email_address=" in example


def test_function_5xx_rate_alert_per_function(tf: tc.Terraform) -> None:
    body, threshold = alert(tf, "function_errors")
    assert body["for_each"] == ref("local.functions")
    numerator = threshold["filter"].replace('\\"', '"')
    denominator = threshold["denominator_filter"].replace('\\"', '"')
    assert 'resource.labels.service_name = "${local.run_services[each.key]}"' in numerator
    assert "run.googleapis.com/request_count" in numerator
    assert 'metric.labels.response_code_class = "5xx"' in numerator
    assert denominator == numerator.replace(' AND metric.labels.response_code_class = "5xx"', "")
    assert threshold["threshold_value"] == ref("local.alerts.error_ratio")
    assert 0 < tf.locals["alerts"]["error_ratio"] < 1


def log_metric_alert(tf: tc.Terraform, name: str, metric: str) -> dict[str, Any]:
    """The row of local.log_metric_alerts named `name`, which must alert on `metric` above 0."""
    body, threshold = alert(tf, "log_metric")
    assert body["for_each"] == ref("local.log_metric_alerts")
    assert "logging.googleapis.com/user/${each.value.metric}" in threshold["filter"]
    assert "${each.value.resource_type}" in threshold["filter"]
    assert threshold["comparison"] == "COMPARISON_GT"
    assert threshold["threshold_value"] == 0
    assert threshold["duration"] == ref("each.value.duration")
    assert threshold["aggregations"][0]["group_by_fields"] == ref("each.value.group_by")
    row: dict[str, Any] = tf.locals["log_metric_alerts"][name]
    assert row["metric"] == ref(f"{metric}.name"), name
    assert row["documentation"] and row["display_name"].startswith("TelePay: ")
    return row


def test_scheduler_job_failures_alert(tf: tc.Terraform) -> None:
    metric = tf.resource("google_logging_metric", "scheduler_job_failures")
    assert 'resource.type="cloud_scheduler_job"' in metric["filter"]
    assert "severity>=ERROR" in metric["filter"]
    row = log_metric_alert(tf, "scheduler_job_failures", "google_logging_metric.scheduler_job_failures")
    assert (row["resource_type"], row["group_by"]) == ("cloud_scheduler_job", ["resource.label.job_id"])


def test_tasks_that_used_up_their_attempts_alert(tf: tc.Terraform) -> None:
    metric = tf.resource("google_logging_metric", "tasks_exhausted")
    assert 'resource.type="cloud_tasks_queue"' in metric["filter"]
    assert "NOT jsonPayload.attemptResponseLog.retryTime:*" in metric["filter"]
    row = log_metric_alert(tf, "tasks_exhausted", "google_logging_metric.tasks_exhausted")
    assert (row["resource_type"], row["group_by"]) == ("cloud_tasks_queue", ["resource.label.queue_id"])
    # The queues must log every attempt for the metric to see the last one.
    queue = tf.resource("google_cloud_tasks_queue", "queue")
    assert tc.single_block(queue, "stackdriver_logging_config") == {"sampling_ratio": 1.0}


def test_outbox_age_alert(tf: tc.Terraform) -> None:
    row = log_metric_alert(tf, "outbox_stuck", 'google_logging_metric.counter["telepay_outbox_stuck"]')
    assert row["duration"] == "${local.alerts.outbox_stuck_minutes * 60}s"
    assert tf.locals["alerts"]["outbox_stuck_minutes"] >= 5


def test_reconciliation_alert_uses_the_shared_log_contract(tf: tc.Terraform) -> None:
    from shared_schemas.names import (
        RECONCILIATION_DISCREPANCIES_FIELD,
        RECONCILIATION_METRIC,
        RECONCILIATION_SUMMARY_MESSAGE,
    )

    assert tf.locals["reconciliation"] == {
        "metric": RECONCILIATION_METRIC,
        "message": RECONCILIATION_SUMMARY_MESSAGE,
        "field": RECONCILIATION_DISCREPANCIES_FIELD,
    }
    metric = tf.resource("google_logging_metric", "reconciliation_discrepancies")
    assert metric["name"] == ref("local.reconciliation.metric")
    assert 'jsonPayload.message="${local.reconciliation.message}"' in metric["filter"]
    assert "jsonPayload.${local.reconciliation.field}>0" in metric["filter"]
    log_metric_alert(tf, "reconciliation_discrepancies", "google_logging_metric.reconciliation_discrepancies")


def test_alerts_on_log_based_metrics_wait_for_the_metrics_to_exist(tf: tc.Terraform) -> None:
    """Cloud Monitoring answers 404 "Cannot find metric(s)" to an alert policy on a log-based
    metric created seconds before (hashicorp/terraform-provider-google#11102; the metric can take
    minutes to appear): every such policy waits for a time_sleep after every log-based metric."""
    sleep = tf.resource("time_sleep", "log_metrics_exist")
    assert int(sleep["create_duration"].rstrip("s")) >= 120
    triggers = json.dumps(sleep["triggers"])
    for name in tf.of_type("google_logging_metric"):
        assert f"google_logging_metric.{name}" in triggers, f"the wait does not follow {name}"
    waiting = set()
    for name, body in tf.of_type("google_monitoring_alert_policy").items():
        if "logging.googleapis.com/user/" not in json.dumps(body["conditions"]):
            continue
        waiting.add(name)
        assert ref("time_sleep.log_metrics_exist") in body.get("depends_on", []), name
    assert waiting == {"log_metric"}
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    assert "Cannot find metric" in readme and "11102" in readme


def test_dead_letter_backlog_alert_exists(tf: tc.Terraform) -> None:
    _, threshold = alert(tf, "dead_letter_backlog")
    assert "num_undelivered_messages" in threshold["filter"]


def test_payout_failures_are_alerted(tf: tc.Terraform) -> None:
    """A failed or held payout reaches the operator: an alert on the payout function's log line."""
    assert "payout" in FUNCTION_NAMES
    alert = tf.locals["log_metric_alerts"]["payouts_failed"]
    assert "telepay_payouts_failed" in tc.expr(alert["metric"])
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    assert "telepay_payouts_failed" in readme


# (file, text): what the code logs today (format string and outcome), so a reworded log line breaks
# this test instead of silently zeroing a chart or an alert.
LOGGED_BY_THE_CODE = {
    "telepay_payments_settled": [
        ("telepay/payments/ipn.py", 'log.info("IPN %s: %s"'),
        ("telepay/payments/settlement.py", 'outcome = f"{new_status.value}: {event_type.value}"'),
        ("shared_schemas/messages.py", 'PAYMENT_SETTLED = "payment.settled"'),
    ],
    "telepay_access_granted": [
        ("functions/telegram_webhook/main.py", 'log.info("update handled: %s"'),
        ("telepay/subscriptions/membership.py", 'return "join approved"'),
    ],
    "telepay_removals": [
        ("telepay/entry/task_target.py", 'log.info("%s: %s", model.__name__'),
        ("functions/expire_subscriptions/main.py", "ExpiryTask"),
        ("telepay/subscriptions/expiry.py", 'return "removed"'),
    ],
    "telepay_broadcasts_posted": [
        ("telepay/entry/task_target.py", 'log.info("%s: %s", model.__name__'),
        ("functions/expire_subscriptions/main.py", "BroadcastTask"),
        ("telepay/subscriptions/broadcast.py", 'return "posted"'),
    ],
    "telepay_outbox_stuck": [
        ("functions/expire_subscriptions/main.py", '"sweep %s: %s; outbox %s"'),
        ("functions/expire_subscriptions/main.py", '"still has events"'),
    ],
    "telepay_payouts_failed": [
        ("telepay/payouts/flow.py", 'log.error("payout failed: %s needs the operator'),
        ("telepay/payouts/flow.py", '"payout failed: %s ended FAILED: %s", payout.payout_id'),
        ("telepay/payouts/flow.py", 'log.error("payout failed: %s refused: %s"'),
    ],
    "telepay_wallet_changes": [
        ("telepay/owners/wallet_change.py", '"wallet changed: channel %s payouts held until %s (by %s, %s)"'),
        ("telepay/owners/commands.py", "wallet_change.announce(rt, channel)"),
    ],
}


def test_log_metrics_mirror_names_and_the_code_still_logs_them(tf: tc.Terraform) -> None:
    from shared_schemas.names import LOG_METRICS

    table = tf.locals["log_metrics"]
    assert table == {
        spec.name: {
            "function": spec.function.value,
            "message_regex": spec.message_regex,
            "description": spec.description,
        }
        for spec in LOG_METRICS
    }
    metric = tf.resource("google_logging_metric", "counter")
    assert metric["for_each"] == ref("local.log_metrics")
    assert metric["filter"] == ref("local.counter_metric_filters[each.key]")
    filters = tc.expr(tf.locals["counter_metric_filters"])
    assert "local.run_services[spec.function]" in filters and "jsonPayload.message=~" in filters
    assert set(LOGGED_BY_THE_CODE) == set(table)
    for name, places in LOGGED_BY_THE_CODE.items():
        for path, text in places:
            assert text in (ROOT / path).read_text(), f"{name}: {path} no longer has {text!r}"
    for spec in LOG_METRICS:
        assert "\\" not in spec.message_regex, "a backslash changes meaning inside a logging filter string"


def test_dashboard_shows_what_an_operator_looks_at_first(tf: tc.Terraform) -> None:
    dashboard = tf.resource("google_monitoring_dashboard", "operations")
    assert "local.dashboard_charts" in dashboard["dashboard_json"]
    charts = json.dumps(tf.locals["dashboard_charts"]).replace('\\"', '"').replace('\\"', '"')
    for metric in (
        "telepay_payments_settled",
        "telepay_access_granted",
        "telepay_removals",
        "telepay_broadcasts_posted",
        "run.googleapis.com/request_latencies",
        "run.googleapis.com/request_count",
    ):
        assert metric in charts, f"the dashboard has no chart of {metric}"
    for service in ("telegram_webhook", "ipn_handler"):
        assert f'local.run_services["{service}"]' in charts, f"no latency chart for {service}"
    assert "resource.label.service_name" in charts and "5xx" in charts  # errors by function


# --- Outputs and docs ----------------------------------------------------------------------------------------------


def test_outputs_give_the_public_urls_and_the_webhook_command(tf: tc.Terraform, locals_: Locals) -> None:
    assert set(tf.outputs) == {"telegram_webhook_url", "ipn_handler_url", "set_webhook_command"}
    assert tf.outputs["telegram_webhook_url"]["value"] == ref('local.function_urls["telegram_webhook"]')
    assert tf.outputs["ipn_handler_url"]["value"] == ref('local.function_urls["ipn_handler"]')
    # NowPayments calls exactly the URL the output shows.
    assert locals_["function_env"]["create_invoice"]["IPN_CALLBACK_URL"] == ref(
        'local.function_urls["ipn_handler"]'
    )
    command = tf.outputs["set_webhook_command"]["value"].replace('\\"', '"')
    assert "/setWebhook" in command
    for secret in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"):
        assert f'google_secret_manager_secret.secret["{secret}"].secret_id' in command
        # The version the functions read, not always "latest".
        assert f'gcloud secrets versions access ${{local.webhook_secret_versions["{secret}"]}}' in command
    assert "versions access latest" not in command
    assert 'lookup(var.secret_versions, name, "latest")' in tc.expr(locals_["webhook_secret_versions"])
    # Both values reach curl through a config on standard input (printf is a shell builtin), never
    # as an argument of a program: nothing secret in the process list or the shell history.
    assert "| curl --fail --silent --show-error --config -" in command
    before_curl = command.split("| curl", 1)[0]
    assert before_curl.count("printf '") == 2 and "bot%s/setWebhook" in before_curl
    assert 'data-urlencode = "secret_token=%s"' in before_curl
    after_curl = command.split("| curl", 1)[1]
    assert "gcloud" not in after_curl and "secret_token" not in after_curl
    assert "allowed_updates=" in after_curl
    assert 'local.function_urls["telegram_webhook"]' in after_curl
    assert "jsonencode(local.telegram_allowed_updates)" in command
    assert locals_["telegram_allowed_updates"] == list(ALLOWED_UPDATES)
    assert 'local.functions["telegram_webhook"].max_instances' in command


def test_readme_covers_the_operator_tasks() -> None:
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    for needed in (
        "Prerequisites",
        "terraform init",
        "terraform apply",
        "terraform plan",
        "set_webhook_command",
        "secret_token",
        "allowed_updates",
        "gcloud secrets versions add",
        "Rotating secrets",
        "Rollback",
        "Dead letters",
        "python -m scripts.build_bundles",
        "Environments",
        "Smoke test",
        "Alerts",
        "terraform providers lock",
        "gcloud scheduler jobs run",
        "X-Telegram-Bot-Api-Secret-Token",
    ):
        assert needed in readme, f"terraform/README.md does not mention {needed!r}"
    for update in ALLOWED_UPDATES:
        assert update in readme


NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def test_the_runbook_counts_and_lists_what_terraform_declares(tf: tc.Terraform, locals_: Locals) -> None:
    """The runbook's numbers and lists are those of the configuration (they went stale before:
    four secrets of seven, two public functions of three, allowed_updates without chat_member)."""
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    flat = re.sub(r"\s+", " ", readme)
    counts = {
        "secrets": len(locals_["secrets"]),
        "public functions": len(PUBLIC_FUNCTIONS),
        "private functions": len(FUNCTION_NAMES - PUBLIC_FUNCTIONS),
        "queues": len(QUEUES),
    }
    for noun, count in counts.items():
        for number, word in NUMBER_WORDS.items():
            said = re.search(rf"\b{word} {noun}\b", flat, re.I)
            if said and number != count:
                raise AssertionError(f"README.md says {said.group(0)!r}: there are {count}")
        assert re.search(rf"\b{NUMBER_WORDS[count]} {noun}\b", flat, re.I), f"say how many {noun} ({count})"
    assert json.dumps(list(ALLOWED_UPDATES), separators=(",", ":")) in readme
    assert "does not exist yet" not in readme  # reconciliation runs every five minutes
    # Every secret read into a shell variable is unset again in the same block.
    for block in re.findall(r"```\n(.*?)```", readme, re.S):
        read = set(re.findall(r"read -rs (\w+)", block))
        unset = {name for line in re.findall(r"^unset (.+)$", block, re.M) for name in line.split()}
        assert read <= unset, f"not unset after use: {sorted(read - unset)}"
    assert "up to 3 days" in readme  # a deleted queue's name (Cloud Tasks' tombstone window)
    assert "gcloud tasks queues pause" in readme and "gcloud tasks queues resume" in readme


# How many instances a for_each over each derived local makes, from the literal tables.
DERIVED_COUNTS = {
    "function_project_role_grants": lambda t: sum(len(r) for r in t["function_project_roles"].values()),
    "invoker_bindings": lambda t: sum(len(c) for c in t["function_invokers"].values()),
    "secret_accessors": lambda t: sum(len(s) for s in t["function_secrets"].values()),
    "topic_publishers": lambda t: sum(len(p["published_by"]) for p in t["topics"].values()),
    "queue_enqueuers": lambda t: sum(len(q["enqueued_by"]) for q in t["queues"].values()),
}


def planned_instances(tf: tc.Terraform, body: dict[str, Any]) -> int:
    if "for_each" not in body:
        return 1
    expression = tc.expr(body["for_each"])
    if expression == "toset([for name, function in local.functions : name if function.public])":
        return len(PUBLIC_FUNCTIONS)
    match = re.fullmatch(r"(?:toset\()?local\.(\w+)\)?", expression)
    assert match, f"cannot count for_each = {expression}"
    name = match.group(1)
    return DERIVED_COUNTS[name](tf.locals) if name in DERIVED_COUNTS else len(tf.locals[name])


def test_readme_says_what_the_first_plan_shows(tf: tc.Terraform) -> None:
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    table = {m[0]: int(m[1]) for m in re.findall(r"^\| `([a-z0-9_]+\.[a-z0-9_]+)` \| (\d+) \|", readme, re.M)}
    expected = {f"{t}.{n}": planned_instances(tf, block.body) for (t, n), block in tf.resources.items()}
    assert table == expected, "the table in README.md, 'What `terraform plan` shows', is stale"
    targeted = expected["google_project_service.api"] + expected["google_secret_manager_secret.secret"]
    assert f"Plan: {targeted} to add, 0 to change, 0 to destroy" in readme
    assert f"Plan: {sum(expected.values()) - targeted} to add, 0 to change, 0 to destroy." in readme


def test_generated_files_stay_out_of_git() -> None:
    ignored = (tc.TERRAFORM_DIR / ".gitignore").read_text().split()
    for pattern in (".terraform/", ".build/", "*.tfstate", "*.tfstate.*", "*.tfvars"):
        assert pattern in ignored


# --- checkov -------------------------------------------------------------------------------------------------------


def test_every_checkov_skip_says_why(tf: tc.Terraform) -> None:
    skips = tc.checkov_skips(tf)
    assert skips, "no skips found: did the comment format change?"
    for file, header, check, reason in skips:
        assert reason and len(reason) > 30, f"{file} {header}: skip of {check} needs a reason"
        assert header, f"{file}: skip of {check} outside a resource"


def test_checkov_passes() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "checkov.sh"), "-o", "json"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"checkov failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    assert report["summary"]["failed"] == 0
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 50
    # Every skip names a check that exists for that resource type (a mistyped id skips nothing).
    checks_dir = next(
        (ROOT / ".venv-checkov" / "lib").glob("python3*/site-packages/checkov/terraform/checks")
    )
    sources = [path.read_text() for path in checks_dir.rglob("*.py")]
    for file, header, check, _ in tc.checkov_skips(tc.load()):
        resource_type = header.split('"')[1]
        check_id = re.compile(rf"""id\s*=\s*['"]{check}['"]""")
        names_type = re.compile(rf"""['"]{resource_type}['"]""")
        assert any(check_id.search(source) and names_type.search(source) for source in sources), (
            f"{file} {header}: {check} is not a checkov check of {resource_type}"
        )


def test_provider_schema_fixture_documents_its_origin() -> None:
    fixture = tc.provider_schema()
    assert fixture["_providers"]["google"]["npm_package"] == "@cdktf/provider-google@16.12.1"
    assert "scripts/extract_provider_schema.py" in fixture["_about"]
    assert Path(ROOT / "scripts" / "extract_provider_schema.py").is_file()


def test_a_payout_wallet_change_is_alerted(tf: tc.Terraform) -> None:
    """A changed payout wallet reaches the operator at once (its payouts are held meanwhile)."""
    alert = tf.locals["log_metric_alerts"]["wallet_changed"]
    assert "telepay_wallet_changes" in tc.expr(alert["metric"]) and alert["duration"] == "0s"
    readme = (tc.TERRAFORM_DIR / "README.md").read_text()
    assert "telepay_wallet_changes" in readme
