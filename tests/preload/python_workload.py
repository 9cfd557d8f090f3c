"""CPython's own allocations through the preloaded face (run_preloaded.sh, with PYTHONMALLOC=malloc
so that every object is a malloc): thread pools started and shut down round after round (many
thread ends), threading.local, multiprocessing with the fork start method while another thread
allocates (the child's copy of the heap must be its own), sqlite3 and zlib. Prints only what
any correct malloc gives the same."""

import concurrent.futures
import hashlib
import multiprocessing
import sqlite3
import threading
import zlib

ROUNDS = 6
WORKERS = 8


def digest(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
    return h.hexdigest()[:16]


local = threading.local()


def work(i):
    # Per-thread state that lives until the thread ends.
    if not hasattr(local, "seen"):
        local.seen = []
    local.seen.append(i)
    words = ["w%d-%d" % (i, k) * (1 + k % 7) for k in range(300)]
    table = {w: len(w) for w in words}
    joined = "|".join(sorted(table))
    return i, len(joined), sum(table.values())


def thread_pools():
    out = []
    for _ in range(ROUNDS):
        with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as ex:
            out.extend(ex.map(work, range(64)))
    print("thread pools:", ROUNDS, "rounds,", len(out), "tasks, digest", digest(out))


def plain_threads():
    seen = []
    lock = threading.Lock()

    def body(n):
        local.value = [n] * (n + 1)
        with lock:
            seen.append(sum(local.value))

    threads = [threading.Thread(target=body, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("threading.local:", len(seen), "threads, sum", sum(seen))


def square_sum(n):
    return sum(k * k for k in range(n))


def forked_children():
    stop = threading.Event()

    def churn():  # allocates while the main thread forks
        while not stop.is_set():
            _ = [bytes(64) for _ in range(100)]

    t = threading.Thread(target=churn)
    t.start()
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(3) as pool:
            results = pool.map(square_sum, range(200, 400))
        p = ctx.Process(target=square_sum, args=(1000,))
        p.start()
        p.join()
    finally:
        stop.set()
        t.join()
    print("multiprocessing (fork):", len(results), "results, sum", sum(results),
          "exitcode", p.exitcode)


def sqlite():
    db = sqlite3.connect(":memory:")
    db.execute("create table t (id integer primary key, name text, grp integer, val real)")
    db.executemany("insert into t (name, grp, val) values (?, ?, ?)",
                   (("name-%05d" % i, i % 17, i * 0.5) for i in range(5000)))
    db.execute("create index t_grp on t (grp)")
    groups = db.execute("select grp, count(*), sum(val) from t group by grp order by grp").fetchall()
    top = db.execute("select name from t where grp = 3 order by val desc limit 5").fetchall()
    db.close()
    print("sqlite3:", len(groups), "groups, digest", digest(groups, top))


def zlib_roundtrip():
    data = b"".join(b"line %06d of the text to compress\n" % i for i in range(60000))
    sizes = []
    for level in (1, 6, 9):
        packed = zlib.compress(data, level)
        assert zlib.decompress(packed) == data
        sizes.append(len(packed))
    obj = zlib.compressobj(6)
    stream = b"".join(obj.compress(data[i:i + 4096]) for i in range(0, len(data), 4096))
    stream += obj.flush()
    assert zlib.decompressobj().decompress(stream) == data
    print("zlib:", len(data), "bytes, crc32", zlib.crc32(data), "sizes", sizes)


if __name__ == "__main__":
    thread_pools()
    plain_threads()
    forked_children()
    sqlite()
    zlib_roundtrip()
