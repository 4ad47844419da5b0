"""Benchmark: render the whole nation (every WAN and access router), and compare with Ansible.

jinbao's path: plan the intents, then `render_many` (one cached Jinja2 environment, forked workers).
Ansible's path, in the same run: the same templates with the same per-device variables, rendered by
`ansible-playbook`'s `template` module over a local connection for a sample of N devices. Prints devices,
wall time, configs/s and the per-config ratio.

    .venv/bin/python bench/render.py [--sample 40] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from network.plan import build_intents  # noqa: E402
from network.render import render_many  # noqa: E402
from network.render.engine import TEMPLATE_DIR  # noqa: E402
from network.render.platforms import PLATFORMS  # noqa: E402
from network.render.view import build_view  # noqa: E402
from network.secrets import LabTestSecrets  # noqa: E402
from network.service import open_network  # noqa: E402
from network.validate import validate_many  # noqa: E402

PLAYBOOK = """\
- name: Render router configurations with the template module (benchmark)
  hosts: routers
  gather_facts: false
  tasks:
    - name: Render
      ansible.builtin.template:
        src: "{{ tpl_dir }}/wrapper-{{ d.platform }}.j2"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.cfg"
        lstrip_blocks: true
        trim_blocks: true
        mode: "0644"
"""


def _jsonable(view: object) -> object:
    return json.loads(json.dumps(dataclasses.asdict(view), default=list))  # type: ignore[arg-type]


def ansible_render(intents: list, work: Path, forks: int) -> tuple[float, Path]:
    """Render the sample through ansible-playbook; returns (wall seconds, output directory)."""
    tpl = work / "templates"
    shutil.copytree(TEMPLATE_DIR, tpl)
    for name in PLATFORMS:
        # the template module searches the wrapper's own directory, so the shared skeleton resolves
        (tpl / f"wrapper-{name}.j2").write_text(f'{{% include "{name}/device.j2" %}}\n', encoding="utf-8")
    hv = work / "host_vars"
    hv.mkdir()
    secrets = LabTestSecrets()
    for intent in intents:
        view = build_view(intent, PLATFORMS[intent.platform], secrets)
        (hv / f"{intent.hostname}.json").write_text(json.dumps({"d": _jsonable(view)}), encoding="utf-8")
    inv = work / "hosts.ini"
    inv.write_text("[routers]\n" + "".join(f"{i.hostname} ansible_connection=local\n" for i in intents),
                   encoding="utf-8")
    (work / "play.yml").write_text(PLAYBOOK, encoding="utf-8")
    out = work / "out"
    out.mkdir()
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCALHOST_WARNING": "False"}
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inv), str(work / "play.yml"),
           "-f", str(forks), "-e", f"tpl_dir={tpl} out_dir={out}"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    return wall, out


def _norm(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=40, help="devices rendered through Ansible")
    ap.add_argument("--forks", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    p = open_network(ROOT / "inventory")
    intents = build_intents(p)
    t1 = time.perf_counter()
    (ROOT / "out").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "out") as t:  # /tmp is slow to create files on here
        # rendering alone, as Ansible's template module does; the validation `jinbao render` adds is timed apart
        manifest = render_many(intents.values(), LabTestSecrets(), Path(t) / "configs", validate=False)
        t2 = time.perf_counter()
        checked = validate_many([((Path(t) / "configs" / d["file"]).read_text(), d["platform"])
                                 for d in manifest["devices"]])
        validate_s = round(time.perf_counter() - t2, 2)
        assert not any(checked), "a rendered config fails its validator"
        sample = sorted(intents.values(), key=lambda i: i.hostname)[:: max(1, len(intents) // args.sample)]
        sample = sample[: args.sample]
        a_wall, a_out = ansible_render(sample, Path(t) / "ansible", args.forks)
        a_files = sorted(a_out.glob("*.cfg"))
        a_n = len(a_files)
        # same templates, same variables: the outputs should match ours (blank-line folding aside)
        same = sum(_norm(f.read_text()) == _norm((Path(t) / "configs" / f.name).read_text()) for f in a_files)
    n = len(manifest["devices"])
    ours_per = (t2 - t0) / n
    theirs_per = a_wall / a_n
    res = {"devices": n, "plan_s": round(t1 - t0, 2), "render_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2),
           "validate_s": validate_s,
           "configs_per_s": round(n / (t2 - t0), 1), "ansible_sample": a_n, "ansible_s": round(a_wall, 2),
           "ansible_configs_per_s": round(a_n / a_wall, 2), "ansible_identical": same,
           "ratio_per_config": round(theirs_per / ours_per, 1),
           "target": "nation < 10 s, >= 20x faster than Ansible per config"}
    if args.json:
        print(json.dumps(res, indent=1))
        return
    print("jinbao render: every WAN and access router of the nation")
    print(f"  devices {n}: plan {res['plan_s']} s + render {res['render_s']} s = {res['total_s']} s"
          f" -> {res['configs_per_s']} configs/s")
    print(f"  + validation of every config (as `jinbao render` does it, single process): {validate_s} s")
    print(f"  Ansible template module (ansible-playbook, local connection, forks {args.forks}):"
          f" {a_n} configs in {res['ansible_s']} s -> {res['ansible_configs_per_s']} configs/s"
          f" ({same}/{a_n} identical to jinbao's output)")
    print(f"  per config, jinbao (plan + render) is {res['ratio_per_config']}x faster than Ansible's render alone")


if __name__ == "__main__":
    main()
