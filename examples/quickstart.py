"""Quickstart with the Python API: analyse the bundled events and list ambassadors.

Run from the repository root:  python examples/quickstart.py [OUT_DIR]
"""

import sys
from pathlib import Path

import influence

HERE = Path(__file__).parent
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("influence-out")

config = influence.load_config(HERE / "config.toml")
result = influence.analyze(HERE / "events.csv", customers=HERE / "customers.csv",
                           config=config)
print(result)

# Everyone came out, once; nothing was lost silently.
m = result.manifest
assert m["rows_read"] == m["rows_used"] + sum(m["dropped"].values())
assert result.customers["customer_id"].is_unique

champions = result.customers[result.customers["segment"] == "champions"]
print(f"{len(champions)} champions; the first five and why:")
for row in champions.head(5).itertuples():
    print(f"  #{row.influence_rank:<4} {row.customer_id}  {row.segment_reason}")

print(result.customers["segment"].value_counts().to_string())
result.save(out)
print(f"results written to {out}/")
