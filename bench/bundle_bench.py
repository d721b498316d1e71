"""Benchmarks of the bundle path, side by side with what a user would write instead.

Run with `make bench` (full size) or `make bench-smoke` (tiny, only checks that the
benchmarks still work; CI runs this one). Prints a table and writes the same figures
as JSON. Every figure is a median over several runs, measured in one process so the
ratios compare like with like on the same machine at the same time.

1. fetch+verify+extract of the bundle shapes users ship, from HTTP on 127.0.0.1:
   A: one random file in a gzip tar (bundle_build's default compression), B: the same in
   an xz tar, C: many small files (1 to 8 KiB) in a gzip tar. Each side by side:
   groundwork.infra.bundle_fetch over a local connection; bundle_fetch with become, the
   path of a host that is not the controller (the artifact is transferred and hashed
   again on the host); ansible.builtin.get_url (checksum: sha256:...) +
   ansible.builtin.unarchive, the anchor; and the limit, `gzip -dc | tar -x && sync`
   (`xz -dc` for B) of the same artifact already on disk
2. hash throughput: hash_file() vs hashlib.sha256 over the same bytes in memory
3. re-run with nothing changed: bytes downloaded and time of the bundle step
4. fan-out: one bundle to 1, 4 and 16 hosts (local connection, one destination each):
   wall time of the bundle step, bytes served by the origin, CPU per host
5. peak resident memory of bundle_install for archives of 1,000 and 50,000 members
6. deploy: first and second run of playbooks/deploy.yml on a fresh lab (optional, --deploy;
   a lab left by `make demo` is removed first, and the bench's lab afterwards)

These are measurements, not tests: nothing here fails on a slow machine.
"""

import argparse
import hashlib
import io
import json
import os
import shutil
import random
import resource
import statistics
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1024 * 1024
PORT = 18123  # outside 18080-18110 (the demo and molecule scenarios use ports there)


def collections_path():
    site = [os.path.join(p) for p in sys.path if p.endswith("site-packages")]
    return ":".join([os.path.join(ROOT, "build", "collections")] + site)


def env():
    data = dict(os.environ)
    data.update(ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_LOCALHOST_WARNING="false",
                ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOWS="1", ANSIBLE_PIPELINING="true")
    return data


def playbook(path, inventory=None, extra=None):
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path,
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    if inventory:
        cmd += ["-i", inventory]
    for key, value in (extra or {}).items():
        cmd += ["-e", "%s=%s" % (key, value)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("ansible-playbook %s failed:\n%s\n%s" % (path, proc.stdout.decode()[-3000:], proc.stderr.decode()[-2000:]))
    return elapsed, json.loads(proc.stdout.decode())


def served_bytes(log, needle):
    total = 0
    if os.path.exists(log):
        with open(log) as handle:
            for line in handle:
                entry = json.loads(line)
                if needle in entry["path"]:
                    total += entry["bytes"]
    return total


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def make_payload(work, size):
    """A directory with one incompressible file of ``size`` bytes (like an image tarball)."""
    src = os.path.join(work, "src-%d" % size)
    if not os.path.isdir(src):
        os.makedirs(src + ".tmp", exist_ok=True)
        with open(os.path.join(src + ".tmp", "payload.bin"), "wb") as handle:
            block = os.urandom(4 * MIB)
            left = size
            while left > 0:
                chunk = block[:min(left, len(block))]
                handle.write(chunk)
                left -= len(chunk)
        os.rename(src + ".tmp", src)
    return src


def make_small_files(work, count):
    """A directory of ``count`` files of 1 to 8 KiB, 100 per directory (a web app, a chart repository)."""
    src = os.path.join(work, "files-%d" % count)
    if not os.path.isdir(src):
        rng = random.Random(count)
        pool = os.urandom(8192)
        for index in range(count):
            sub = os.path.join(src + ".tmp", "d%03d" % (index // 100))
            if index % 100 == 0:
                os.makedirs(sub, exist_ok=True)
            size = rng.randint(1024, 8192)
            with open(os.path.join(sub, "f%05d.txt" % index), "wb") as handle:
                # Random-looking but compressible content, like source and config files.
                handle.write((b"%d " % index + pool[:size // 2].hex().encode())[:size])
        os.rename(src + ".tmp", src)
    return src


def build_release(work, name, src, compression):
    """Build (once, then reuse) a release of ``src`` with bundle_build; return its URLs and digest."""
    dest = os.path.join(work, "www", name)
    if not os.path.exists(os.path.join(dest, "manifest.yaml")):
        shutil.rmtree(dest, ignore_errors=True)
        book = os.path.join(work, "build-%s.yml" % name)
        write(book, """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - groundwork.infra.bundle_build:
        dest: %s
        release: "1.0.0"
        components:
          - {name: payload, version: "1.0.0", kind: files, src: %s, compression: %s}
      register: built
""" % (dest, src, compression))
        playbook(book)
    with open(os.path.join(dest, "manifest.yaml")) as handle:
        manifest = handle.read()
    digest = [line.split('"')[1] for line in manifest.splitlines() if line.strip().startswith("sha256:")][0]
    url_path = [line.split('"')[1] for line in manifest.splitlines() if line.strip().startswith("url:")][0]
    artifact_size = [int(line.split(":")[1]) for line in manifest.splitlines() if line.strip().startswith("size:")][0]
    return {"manifest": "http://127.0.0.1:%d/%s/manifest.yaml" % (PORT, name), "name": name, "compression": compression,
            "url": "http://127.0.0.1:%d/%s/%s" % (PORT, name, url_path), "digest": digest, "size": artifact_size,
            "file": os.path.join(dest, url_path)}


def fetch_book(work, manifest, dest, cache, hosts="localhost", transfer=False):
    """A playbook running bundle_fetch over a local connection.

    ``transfer``: with become (su, root to root here), so the host does not read the
    controller's cache file itself: the artifact is transferred to a temporary file and
    hashed there, the path every host that is not the controller takes.
    """
    path = os.path.join(work, "fetch-transfer.yml" if transfer else "fetch.yml")
    write(path, """
- hosts: %s
  connection: local
  gather_facts: false%s
  tasks:
    - groundwork.infra.bundle_fetch:
        manifest: %s
        dest: "%s/{{ inventory_hostname }}"
        cache_dir: %s
""" % (hosts, "\n  become: true\n  become_method: ansible.builtin.su" if transfer else "", manifest, dest, cache))
    return path


def fetch_result(result):
    """The bundle_fetch task result of the single-host fetch playbook (ansible.posix.json output),
    with ``verified.checked_by``: how the host checked each artifact (algorithm, or stamp)."""
    task = result["plays"][0]["tasks"][0]["hosts"]["localhost"]
    task.setdefault("verified", {})["checked_by"] = [a.get("checked") for a in task["verified"].get("artifacts", [])]
    return task


def anchor_book(work, url, digest, dest, suffix):
    path = os.path.join(work, "anchor.yml")
    write(path, """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.file: {path: "%s/out", state: directory, mode: "0755"}
    - ansible.builtin.get_url: {url: "%s", dest: "%s/payload%s", checksum: "sha256:%s", mode: "0644"}
    - ansible.builtin.unarchive: {src: "%s/payload%s", dest: "%s/out", remote_src: true}
""" % (dest, url, dest, suffix, digest, dest, suffix, dest))
    return path


def limit_run(release, dest):
    """The floor: decompress and unpack the artifact already on disk, then make it durable."""
    tool = "xz" if release["compression"] == "xz" else "gzip"
    os.makedirs(dest)
    start = time.perf_counter()
    subprocess.run(["bash", "-c", 'set -o pipefail; %s -dc "$1" | tar -x -C "$2" && sync' % tool, "limit", release["file"], dest],
                   check=True)
    return time.perf_counter() - start


SIDES = ("ours", "transfer", "anchor", "limit")


def children_cpu():
    """User + system CPU seconds of every finished child process so far (ansible-playbook and all it
    waited for: workers, modules; the limit's shell, gzip or xz and tar)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Trees of many files are removed only when the bench ends (remove_later). On ext4 without a
# journal (this development machine's root file system), creating an inode skips every inode
# of its group freed in the last 60 s (300 s more while their inode table block is dirty:
# recently_deleted() in fs/ext4/ialloc.c), one buffer lookup each: removing 20,000 files
# right after a run made whichever side came next pay seconds for it, so shape C measured
# the order of the sides more than the sides.
MANY_FILES = 1000
LEFT_FOR_LATER = []


def remove_later(path):
    LEFT_FOR_LATER.append(path)


def remove_left():
    while LEFT_FOR_LATER:
        shutil.rmtree(LEFT_FOR_LATER.pop(), ignore_errors=True)


def bench_fetch(work, runs, release, many_files=False):
    """One shape: bundle_fetch (local, and with become), the anchor and the limit, turns rotated.

    ``many_files``: the trees written are removed when the bench ends, not after each run.
    """
    manifest, url, digest = release["manifest"], release["url"], release["digest"]
    suffix = os.path.basename(release["file"])[len("payload-1.0.0"):]
    times = dict((side, []) for side in SIDES)
    cpu = dict((side, []) for side in SIDES)  # user + system seconds of the side's processes (less sensitive to load)
    checked = {}
    for index in range(runs):
        # Rotate which side goes first, so none always runs right after another's writes.
        order = SIDES[index % len(SIDES):] + SIDES[:index % len(SIDES)]
        for label in order:
            dest = os.path.join(work, "run-%s-%d" % (label, index))
            shutil.rmtree(dest, ignore_errors=True)
            before = children_cpu()
            if label == "limit":
                times[label].append(limit_run(release, dest))
            else:
                if label == "anchor":
                    book = anchor_book(work, url, digest, dest, suffix)
                else:
                    book = fetch_book(work, manifest, dest, os.path.join(dest, "cache"), transfer=label == "transfer")
                elapsed, result = playbook(book)
                times[label].append(elapsed)
                if label != "anchor":
                    checked[label] = sorted(set(fetch_result(result).get("verified", {}).get("checked_by", [])))
            cpu[label].append(children_cpu() - before)
            if many_files:
                remove_later(dest)
            else:
                shutil.rmtree(dest, ignore_errors=True)
    med = dict((side, statistics.median(values)) for side, values in times.items())
    return {"host_checked_by": checked, "runs": runs, "artifact_bytes": release["size"], "compression": release["compression"],
            "bundle_fetch_s": med["ours"], "bundle_fetch_transfer_s": med["transfer"], "get_url_unarchive_s": med["anchor"],
            "limit_s": med["limit"], "ratio": med["ours"] / med["anchor"], "limit_ratio": med["ours"] / med["limit"],
            "transfer_ratio": med["transfer"] / med["anchor"], "transfer_limit_ratio": med["transfer"] / med["limit"],
            "all_s": times, "cpu_s": dict((side, statistics.median(values)) for side, values in cpu.items()), "all_cpu_s": cpu}


def bench_hash(work, size, runs):
    sys.path.insert(0, os.path.join(ROOT, "build", "collections"))
    from ansible_collections.groundwork.infra.plugins.module_utils._bundle_hash import hash_file  # pylint: disable=import-outside-toplevel
    path = os.path.join(make_payload(work, size), "payload.bin")
    with open(path, "rb") as handle:
        data = handle.read()
    hash_file(path)  # page cache warm
    disk, memory = [], []
    for _run in range(runs):
        start = time.perf_counter()
        hash_file(path)
        disk.append(time.perf_counter() - start)
        start = time.perf_counter()
        hashlib.sha256(data).hexdigest()
        memory.append(time.perf_counter() - start)
    return {"hash_file_mb_s": size / MIB / statistics.median(disk), "hashlib_memory_mb_s": size / MIB / statistics.median(memory),
            "ratio": statistics.median(memory) / statistics.median(disk), "runs": runs, "target": ">= 0.9"}


def bench_rerun(work, manifest, log, runs):
    dest = os.path.join(work, "rerun")
    shutil.rmtree(dest, ignore_errors=True)
    book = fetch_book(work, manifest, dest, os.path.join(dest, "cache"))
    first = playbook(book)[0]
    before = served_bytes(log, "/artifacts/")
    again = []
    for _run in range(runs):
        elapsed, result = playbook(book)
        again.append(elapsed)
        changed = result["stats"]["localhost"]["changed"]
    downloaded = served_bytes(log, "/artifacts/") - before
    full_start = time.perf_counter()
    write(os.path.join(work, "full.yml"), open(book).read().replace("cache_dir:", "verify: full\n        cache_dir:"))
    playbook(os.path.join(work, "full.yml"))
    full = time.perf_counter() - full_start
    shutil.rmtree(dest, ignore_errors=True)
    return {"first_s": first, "rerun_s": statistics.median(again), "rerun_changed": changed,
            "rerun_downloaded_bytes": downloaded, "full_verify_rerun_s": full, "target": "0 bytes, no full re-hash"}


def bench_fanout(work, release, log, counts):
    """One bundle to N hosts (local connection, a destination each, one controller cache)."""
    out = []
    for hosts in counts:
        dest = os.path.join(work, "fanout")
        shutil.rmtree(dest, ignore_errors=True)
        inventory = os.path.join(work, "fanout.ini")
        write(inventory, "[fan]\n" + "".join("host%d ansible_connection=local\n" % i for i in range(hosts)))
        before = served_bytes(log, "/artifacts/")
        book = fetch_book(work, release["manifest"], dest, os.path.join(dest, "cache"), hosts="fan")
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        elapsed = playbook(book, inventory=inventory, extra={"ansible_forks": max(hosts, 5)})[0]
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        served = served_bytes(log, "/artifacts/") - before
        shutil.rmtree(dest, ignore_errors=True)
        out.append({"hosts": hosts, "origin_bytes": served, "seconds": elapsed,
                    "cpu_s_per_host": (after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime) / hosts})
    return {"runs": out, "artifact_bytes": release["size"], "target": "none yet (one copy from the origin per run)"}


MEMORY_PROBE = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_download import ArtifactCache
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_release import install_release
url, digest, size, work = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
got = ArtifactCache(os.path.join(work, "cache")).ensure(url, digest, size)
install_release(os.path.join(work, "dest"), "1.0.0", [{"name": "payload", "version": "1.0.0", "kind": "files", "requires": {},
                "artifacts": [{"name": "payload-1.0.0.tar.gz", "src": got["path"], "sha256": digest, "size": size, "unpack": True}]}])
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
with open("/proc/self/status") as handle:
    hwm = [int(line.split()[1]) for line in handle if line.startswith("VmHWM:")][0]
print(json.dumps({"max_rss_kib": hwm}))
"""


def make_members_release(work, members):
    """A gzip tar of ``members`` small files (100 bytes, 100 per directory) served under www/; built with tarfile (fast)."""
    name = "mem-%d" % members
    path = os.path.join(work, "www", name, "payload-1.0.0.tar.gz")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tarfile.open(path + ".tmp", "w:gz", compresslevel=1, format=tarfile.PAX_FORMAT) as tar:
            for index in range(members):
                info = tarfile.TarInfo("d%04d/member-%06d.txt" % (index // 100, index))
                data = (b"member %d " % index) * 10
                info.size = len(data[:100])
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data[:100]))
        os.rename(path + ".tmp", path)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return {"url": "http://127.0.0.1:%d/%s/payload-1.0.0.tar.gz" % (PORT, name), "digest": digest, "size": os.path.getsize(path)}


def bench_memory(work, counts):
    out = {}
    for members in counts:
        release = make_members_release(work, members)
        url, digest, size = release["url"], release["digest"], release["size"]
        probe = os.path.join(work, "mem-%d" % members)
        shutil.rmtree(probe, ignore_errors=True)
        os.makedirs(probe)
        proc = subprocess.run([sys.executable, "-c", MEMORY_PROBE, os.path.join(ROOT, "build", "collections"), url, digest,
                               str(size), probe], stdout=subprocess.PIPE, check=True)
        out["%d_members" % members] = json.loads(proc.stdout.decode())["max_rss_kib"] / 1024.0
        shutil.rmtree(probe, ignore_errors=True)
    out["target"] = "<= 64 MiB and flat"
    return out


def demo_clean():
    subprocess.run(["make", "-C", ROOT, "demo-clean"], stdout=subprocess.DEVNULL, check=True)


def bench_deploy():
    """First and second deploy.yml on a fresh lab (scripts/demo.sh), then the lab is removed.

    A lab left running by `make demo` is removed first, with the fact cache: on a lab
    that is already deployed the "first" run would be a re-run.
    """
    timings = os.path.join(ROOT, "build", "demo", "timings.json")
    demo_clean()
    try:
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh")], env=dict(os.environ),
                       stdout=subprocess.DEVNULL, check=True)
        with open(timings) as handle:
            data = json.load(handle)
    finally:
        demo_clean()
    data["ratio"] = data["second_s"] / data["first_s"]
    data["target"] = "second run changed=0 and <= 0.4 of the first"
    return data


TARGETS = {"A": "<= 0.4 anchor, <= 1.5 limit", "B": "<= 0.6 anchor", "C": "<= 0.8 anchor"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="shape A: one random file in a gzip tar (also the re-run figure)")
    parser.add_argument("--xz-mib", type=int, default=256, help="shape B: one random file in an xz tar")
    parser.add_argument("--files", type=int, default=20000, help="shape C: this many files of 1 to 8 KiB in a gzip tar")
    parser.add_argument("--fanout-mib", type=int, default=64, help="the gzip bundle of the fan-out figure")
    parser.add_argument("--hosts", default="1,4,16", help="host counts of the fan-out figure")
    parser.add_argument("--members", default="1000,50000", help="archive member counts of the memory figure")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deploy", action="store_true",
                        help="also time deploy.yml on a fresh lab (scripts/demo.sh); removes a running demo lab first, and the lab after")
    parser.add_argument("--only", default="", help="comma separated figures to run (A, B, C, hash, rerun, fanout, memory); default all")
    parser.add_argument("--json", default=os.path.join(ROOT, "build", "bench", "results.json"))
    args = parser.parse_args(argv)

    work = os.path.join(ROOT, "build", "bench", "work")
    os.makedirs(os.path.join(work, "www"), exist_ok=True)
    log = os.path.join(work, "requests.jsonl")
    if os.path.exists(log):
        os.unlink(log)
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "bundle_server.py"), "--root", os.path.join(work, "www"),
                               "--port", str(PORT), "--log", log], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        only = set(filter(None, args.only.split(",")))

        def wanted(name):
            return not only or name in only

        results = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_before": os.getloadavg(),
                               "uptime_before": uptime()},
                   "sizes": {"A_mib": args.size_mib, "B_mib": args.xz_mib, "C_files": args.files, "fanout_mib": args.fanout_mib},
                   "shapes": {}}
        big = None
        if wanted("A") or wanted("rerun"):
            big = build_release(work, "a-gz-%d" % args.size_mib, make_payload(work, args.size_mib * MIB), "gz")
        shapes = {"A": lambda: big,
                  "B": lambda: build_release(work, "b-xz-%d" % args.xz_mib, make_payload(work, args.xz_mib * MIB), "xz"),
                  "C": lambda: build_release(work, "c-files-%d" % args.files, make_small_files(work, args.files), "gz")}
        for shape in ("A", "B", "C"):
            if wanted(shape):
                figure = bench_fetch(work, args.runs, shapes[shape](), many_files=shape == "C" and args.files >= MANY_FILES)
                figure["target"] = TARGETS[shape]
                figure["load"] = os.getloadavg()
                results["shapes"][shape] = figure
        if wanted("hash"):
            results["hash_throughput"] = bench_hash(work, min(args.size_mib, 512) * MIB, max(args.runs, 3))
        if wanted("rerun"):
            results["rerun_unchanged"] = bench_rerun(work, big["manifest"], log, args.runs)
        if wanted("fanout"):
            fan = build_release(work, "fan-gz-%d" % args.fanout_mib, make_payload(work, args.fanout_mib * MIB), "gz")
            results["fan_out"] = bench_fanout(work, fan, log, [int(n) for n in args.hosts.split(",")])
        if wanted("memory"):
            results["peak_rss_mib"] = bench_memory(work, [int(n) for n in args.members.split(",")])
        if args.deploy:
            results["deploy"] = bench_deploy()
        results["machine"]["load_after"] = os.getloadavg()
        results["machine"]["uptime_after"] = uptime()
    finally:
        server.terminate()
        server.wait()
        remove_left()
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
    print_table(results)
    print("\nload before: %s\nload after:  %s" % (results["machine"]["uptime_before"], results["machine"]["uptime_after"]))
    print("JSON: %s" % args.json)
    return 0


def uptime():
    return subprocess.run(["uptime"], stdout=subprocess.PIPE, check=False).stdout.decode().strip()


SHAPE_LABELS = {"A": "A: %(A_mib)d MiB random, gz", "B": "B: %(B_mib)d MiB random, xz", "C": "C: %(C_files)d files 1-8 KiB, gz"}


def print_table(results):
    rows = []
    for shape, f in sorted(results.get("shapes", {}).items()):
        checked = f["host_checked_by"]
        rows.append((SHAPE_LABELS[shape] % results["sizes"],
                     "bundle_fetch %.2f s | get_url+unarchive %.2f s | limit %.2f s (host: %s)" % (
                         f["bundle_fetch_s"], f["get_url_unarchive_s"], f["limit_s"], "/".join(checked.get("ours", []))),
                     "%.2f anchor, %.2f limit" % (f["ratio"], f["limit_ratio"]), f["target"]))
        rows.append(("  same, become (transfer)", "bundle_fetch with become %.2f s (host: %s)" % (
            f["bundle_fetch_transfer_s"], "/".join(checked.get("transfer", []))),
            "%.2f anchor, %.2f limit" % (f["transfer_ratio"], f["transfer_limit_ratio"]), "none (hosts other than the controller)"))
        c = f.get("cpu_s")
        if c:
            rows.append(("  CPU, user+sys", "bundle_fetch %.2f s | become %.2f s | get_url+unarchive %.2f s | limit %.2f s" % (
                c["ours"], c["transfer"], c["anchor"], c["limit"]),
                "%.2f anchor, %.2f limit" % (c["ours"] / c["anchor"], c["ours"] / c["limit"]) if c["anchor"] and c["limit"] else "",
                "none (read beside the wall times: less sensitive to load)"))
    if "hash_throughput" in results:
        h = results["hash_throughput"]
        rows.append(("hash throughput", "hash_file %.0f MB/s vs hashlib in memory %.0f MB/s" % (h["hash_file_mb_s"], h["hashlib_memory_mb_s"]),
                     "%.2f" % h["ratio"], h["target"]))
    if "rerun_unchanged" in results:
        r = results["rerun_unchanged"]
        rows.append(("re-run A, nothing changed", "%d bytes downloaded, %.2f s (first %.2f s, verify=full %.2f s), changed=%d" % (
            r["rerun_downloaded_bytes"], r["rerun_s"], r["first_s"], r["full_verify_rerun_s"], r["rerun_changed"]),
            "%.2f" % (r["rerun_s"] / r["first_s"]), r["target"]))
    if "fan_out" in results:
        o = results["fan_out"]
        for run in o["runs"]:
            rows.append(("fan-out %d MiB gz to %d hosts" % (results["sizes"]["fanout_mib"], run["hosts"]),
                         "%.2f s, origin served %d bytes, CPU %.2f s per host" % (run["seconds"], run["origin_bytes"], run["cpu_s_per_host"]),
                         "%.2f copies" % (run["origin_bytes"] / float(o["artifact_bytes"])), o["target"]))
    if "peak_rss_mib" in results:
        m = results["peak_rss_mib"]
        rows.append(("peak RSS bundle_install", ", ".join("%s: %.1f MiB" % (k, v) for k, v in sorted(m.items(), key=lambda kv: len(kv[0]))
                                                          if k != "target"), "", m["target"]))
    if "deploy" in results:
        d = results["deploy"]
        rows.append(("deploy.yml on the lab", "first %.1f s, second %.1f s (changed=%d)" % (d["first_s"], d["second_s"], d["second_changed"]),
                     "%.2f" % d["ratio"], d["target"]))
    width = max(len(r[0]) for r in rows)
    print("%-*s | %-84s | %-22s | %s" % (width, "figure", "measured (medians)", "ratio", "target"))
    print("-" * (width + 140))
    for row in rows:
        print("%-*s | %-84s | %-22s | %s" % (width, row[0], row[1], row[2], row[3]))


if __name__ == "__main__":
    sys.exit(main())
