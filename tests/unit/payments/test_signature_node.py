"""The IPN verifier (and the NowPayments stand-in's signer) against NowPayments' documented signer run
by Node itself: `JSON.stringify(sortObject(JSON.parse(body)))`, HMAC-SHA512 (tests/unit/payments/js/sign.js).

CI installs Node (`make system-deps`); the test skips only where Node is absent."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.nowpayments_standin.jsjson import js_json_stringify, nowpayments_signature
from telepay.payments.signature import canonical_text, verify

SIGNER = Path(__file__).resolve().parent / "js" / "sign.js"
SECRET = "node-ipn-secret-ü"

# Wire texts as a sender could write them (whitespace, escapes, number spellings, duplicate keys).
HANDWRITTEN = [
    b'{"items":[1,2]}',
    b'{"fee":{"10":1,"2":2}}',
    b'{"k":{"4294967294":1,"4294967295":2,"01":3,"1":4,"-1":5,"1.5":6,"":7,"0":8}}',
    b'{ "a" : 1.0 , "b" : 1E-7, "c": 1e21, "d": -0, "e": 0.00005, "f": 100e-2, "g": 1.50, "h": 1e400 }',
    b'{"big":12345678901234567890,"max":9007199254740993,"tiny":5e-324,"neg":-1.5e-9,"x":123e18}',
    b'{"s":"\\ud800 \\udfff \\ud83d\\ude00 \\u00e9 \\u2028 \\u2029 \\u001f \\u007f \\/ \\"q\\" \\\\"}',
    '{"ключ":"значение","😀":"é","é":1,"e\\u0301":2,"z":3,"Z":4}'.encode(),
    b'{"__proto__":{"x":1},"k":0,"n":{"__proto__":5,"m":1}}',
    b'{"dup":1,"dup":2,"a":[{"b":[[]]},{},[],0,"",false,null]}',
    b'{"payment_id":5077125051,"payment_status":"finished","pay_amount":0.00005,'
    b'"fee":{"currency":"btc","depositFee":0,"withdrawalFee":0.0000081,"serviceFee":0},'
    b'"actually_paid":0.00005,"outcome_amount":0.0000419,"purchase_id":"5837122679"}',
]

KEYS = ["0", "1", "2", "9", "10", "11", "100", "007", "-1", "1.5", "1e3", "4294967294", "4294967295",
        "", "a", "B", "_", "payment_id", "é", "ключ", "😀", "\u2028", "\ud800", "a b"]  # fmt: skip


def _number(rng: random.Random) -> float | int:
    number: float | int = rng.choice(
        [
            rng.randint(-(10**6), 10**6),
            rng.randint(-(2**64), 2**64),
            rng.uniform(-1e6, 1e6),
            rng.uniform(0, 1) * 10 ** rng.randint(-12, 25),
            round(rng.uniform(0, 1000), rng.randint(0, 8)),
            rng.choice([0.0, -0.0, 1e-7, 1e-6, 1e21, 1e20, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]),
        ]
    )
    return number


def _text(rng: random.Random) -> str:
    alphabet = 'ab Z09"\\/\n\t\x00\x1f\x7fé€😀\u2028\ud800\udc00ключ'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randint(0, 9 if depth < 4 else 5)
    if kind <= 1:
        return _number(rng)
    if kind <= 3:
        return _text(rng)
    if kind == 4:
        return rng.choice([True, False])
    if kind == 5:
        return None
    if kind <= 7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(KEYS): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _corpus() -> list[dict[str, Any]]:
    rng = random.Random(20261126)
    return [
        {rng.choice(KEYS): _value(rng, 1) for _ in range(rng.randint(1, 6))} | {"payment_id": _number(rng)}
        for _ in range(400)
    ]


def _node_sign(wires: list[bytes]) -> list[dict[str, str]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node is not installed (make system-deps installs it)")
    lines = "".join(
        json.dumps({"secret": SECRET, "wire": w.decode("utf-8", "surrogatepass")}) + "\n" for w in wires
    )
    done = subprocess.run(
        [node, str(SIGNER)],
        input=lines.encode("utf-8", "surrogatepass"),
        capture_output=True,
        check=True,
        timeout=60,
    )
    answers = [json.loads(line) for line in done.stdout.decode().split("\n") if line]
    assert len(answers) == len(wires)
    return answers


def test_the_verifier_rebuilds_what_node_signs_from_handwritten_bodies() -> None:
    for wire, node in zip(HANDWRITTEN, _node_sign(HANDWRITTEN), strict=True):
        assert canonical_text(wire) == node["text"], wire
        assert verify(wire, node["signature"], SECRET), wire


def test_the_verifier_and_the_standin_agree_with_node_over_a_corpus() -> None:
    bodies = _corpus()
    # The stand-in's wire text, and the same bodies as Python writes them (other number spellings,
    # \u escapes, other key order).
    standin_wires = [js_json_stringify(body).encode() for body in bodies]
    python_wires = [json.dumps(body, sort_keys=True).encode() for body in bodies]
    signed = _node_sign(standin_wires + python_wires)
    for index, body in enumerate(bodies):
        node = signed[index]
        assert nowpayments_signature(body, SECRET) == node["signature"], standin_wires[index]
        for wire in (standin_wires[index], python_wires[index]):
            assert canonical_text(wire) == node["text"], wire
            assert verify(wire, node["signature"], SECRET), wire
        assert signed[len(bodies) + index]["signature"] == node["signature"]
