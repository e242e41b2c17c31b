"""``python -m bench`` (``make bench``): generate (or reuse) the benchmark data set in the
database ``trellis_bench`` and print the figures. ``python -m bench --help`` lists options."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
import warnings


def _parse(argv: list[str]) -> argparse.Namespace:
    from bench.params import Params

    defaults = Params()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Generate (or reuse) the database trellis_bench and print the figures.",
    )
    parser.add_argument("--runs", type=int, default=200, help="timed runs per request")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first")
    parser.add_argument("--regenerate", action="store_true", help="generate the data again")
    parser.add_argument("--generate-only", action="store_true", help="stop after the data")
    parser.add_argument("--database", default="trellis_bench", help="name of the database")
    parser.add_argument(
        "--only",
        choices=["deals", "tiers"],
        help="run only the deal API timings or only the tier engine timings",
    )
    parser.add_argument(
        "--tier-runs", type=int, default=5, help="timed runs of each tier engine figure"
    )
    scale = parser.add_argument_group("scale (a change regenerates the data)")
    scale.add_argument("--partners", type=int, default=defaults.partners)
    scale.add_argument("--deals", type=int, default=defaults.deals)
    scale.add_argument("--small-tenants", type=int, default=defaults.small_tenants)
    scale.add_argument("--small-partners", type=int, default=defaults.small_partners)
    scale.add_argument("--small-deals", type=int, default=defaults.small_deals)
    scale.add_argument("--seed", type=int, default=defaults.seed)
    return parser.parse_args(argv)


def _configure_environment(args: argparse.Namespace) -> None:
    """Before settings load: the benchmark's database, production-like settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Same server and roles as DATABASE_URL / DATABASE_OWNER_URL (or the embedded cluster);
    # only the database name differs.
    os.environ["DATABASE_NAME"] = args.database
    # DEBUG off: the real middleware and no query log (queries are captured only where the
    # benchmark counts them).
    os.environ["DEBUG"] = "false"
    if not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    # Throttling still runs (a Redis round trip per request), at a rate the runs stay under.
    os.environ["API_THROTTLE_USER"] = "1000000/min"
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    _configure_environment(args)

    import django

    # WhiteNoise warns that `collectstatic` has not run; the API does not serve static files.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()

    from bench import dataset
    from bench.params import Params

    params = Params(
        partners=args.partners,
        deals=args.deals,
        small_tenants=args.small_tenants,
        small_partners=args.small_partners,
        small_deals=args.small_deals,
        seed=args.seed,
    )
    info = dataset.ensure(params, regenerate=args.regenerate, log=print)
    if args.generate_only:
        return 0
    from bench import measure

    if not info["reused"]:
        # The load average still counts the generation just done: let it settle a little.
        print("Letting the machine settle after the generation ...")
        for _ in range(18):
            if os.getloadavg()[0] < 1.0:
                break
            time.sleep(5)
    if args.only != "tiers":
        measure.run(info, runs=args.runs, warmup=args.warmup, log=print)
    if args.only != "deals":
        from bench import tiers

        tiers.run(info, runs=args.tier_runs, log=print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
