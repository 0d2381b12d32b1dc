"""Where the time of one IPN goes: ipn_handler's entry point run in this process (cProfile) against
a private stack's emulators and NowPayments stand-in, for `finished` IPNs of fresh orders (the full
path: signature, claim, payment re-read, settle transaction with ledger and outbox, publish).

    python -m scripts.profile_ipn [--ipns 30] [--top 25] [--port-base 29200] [--sort tottime]

Prints the wall time of each request and the functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time

from local.clients import NowPaymentsControl, TelegramControl
from local.fixtures import setup_channel
from scripts import bench_payments
from scripts.benchlib import load_function, percentile, private_stack

PORT_BASE = 29200


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ipns", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--port-base", type=int, default=PORT_BASE)
    parser.add_argument(
        "--sort",
        default="cumulative",
        help="pstats order: cumulative (where the time goes) or tottime (the CPU)",
    )
    args = parser.parse_args()
    with private_stack(rate_limits=False, port_base=args.port_base) as stack:
        endpoints = stack.config.endpoints()
        tg, np = TelegramControl(endpoints), NowPaymentsControl(endpoints)
        setup_channel(endpoints, tg, bench_payments.TOKEN)
        users = [tg.user(f"Profiled{i}") for i in range(args.ipns + 5)]
        prepared = bench_payments._prepare_orders(endpoints, users, np)
        module = load_function(stack.config.function_env(), "ipn_handler")
        from flask import Flask

        from telepay.payments import signature as ipn_signature

        app = Flask("profile")
        secret = endpoints["nowpayments_ipn_secret"]

        # tottime: each function's own CPU (this thread's); cumulative: where the time goes, waits included
        profiler = cProfile.Profile(time.thread_time) if args.sort == "tottime" else cProfile.Profile()

        def one(payment: int, profile: bool) -> tuple[float, float, int]:
            np.steps(payment, [{"status": "finished", "send_ipn": False}])
            body = json.dumps({**np.payment(payment), "payment_status": "finished"}).encode()
            headers = {"x-nowpayments-sig": ipn_signature.sign(body, secret)}
            with app.test_request_context("/", method="POST", data=body, headers=headers):
                from flask import request

                started, cpu = time.perf_counter(), time.process_time()
                if profile:
                    profiler.enable()
                _, status = module.ipn_handler(request)
                if profile:
                    profiler.disable()
                # process_time: this process's CPU in every thread (the I/O pool's too)
                return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000, status

        for _, payment in prepared[:5]:  # warm: clients created, connections open
            one(payment, profile=False)
        times, cpu = [], []
        for _, payment in prepared[5:]:  # timed without the profiler, then profiled
            took, used, status = one(payment, profile=False)
            times.append(took)
            cpu.append(used)
            assert status == 200, status
        print(
            f"{len(times)} IPNs in process: p50 {percentile(times, 50):.1f} ms, p99 {percentile(times, 99):.1f} ms; "
            f"CPU per IPN p50 {percentile(cpu, 50):.1f} ms"
        )
        again = [tg.user(f"Profiled again {i}") for i in range(args.ipns)]
        for _, payment in bench_payments._prepare_orders(endpoints, again, np):
            one(payment, profile=True)
        stats = pstats.Stats(profiler).sort_stats(args.sort)
        stats.print_stats(args.top)
        print("TelePay's own steps (cumulative):")
        stats.print_stats(r"/telepay/", args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
