"""FeatureCache across processes: several writers of the same keys, readers racing evictions, and
DataLoader workers sharing one cache folder. (Single-process behaviour is shown and tested in
nbs/06b_cache.ipynb.)"""
import multiprocessing as mp
import warnings

import torch
import torch.nn.functional as F

from p2ikit.cache import FeatureCache
from p2ikit.teachers import Teacher


class SlowishTeacher(Teacher):
    "A deterministic stand-in for a teacher: global = mean colour x 4, dense = 4x4 pool repeated."
    embed_dim, dense_dim, input_size, dense_size = 12, 12, 16, (4, 4)

    def __init__(self):
        super().__init__(mean=(0.5,) * 3, std=(0.25,) * 3)
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.freeze()

    def _encode(self, x):
        dense = F.adaptive_avg_pool2d(x, 4).repeat(1, 4, 1, 1)
        return x.mean((2, 3)).repeat(1, 4) * self.scale, dense * self.scale


def _images(seed, n=24):
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def _window(r):
    "Overlapping batches of 8 views: round r takes views 5r mod 16 ... +7."
    return slice((r * 5) % 16, (r * 5) % 16 + 8)


def _writer(root, seed, rounds, max_bytes, queue, go):
    try:
        torch.set_num_threads(1)
        go.wait(30)  # all writers start together
        cache, teacher = FeatureCache(root, max_bytes=max_bytes), SlowishTeacher()
        imgs = _images(seed)
        for r in range(rounds):
            batch = imgs[_window(r)]
            out = cache.get_or_compute(teacher, batch, key_extra="mp")
            ref = teacher(batch)
            assert torch.equal(out.dense, ref.dense)
            assert torch.equal(out.global_feat, ref.global_feat)
        queue.put(("ok", cache.stats))
    except BaseException as e:  # report to the parent instead of dying silently
        queue.put(("error", repr(e)))


def _run(procs_args):
    ctx = mp.get_context("fork")
    q, go = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_writer, args=(*a, q, go)) for a in procs_args]
    for p in procs:
        p.start()
    go.set()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


def _all_entries_valid(cache):
    teacher = SlowishTeacher()
    n = 0
    for path, _, _ in cache.entries():
        head, (g, d) = cache.read_entry(path)  # checksum and key (the file's name) verified
        assert g.shape == (12,) and d.shape == (12, 4, 4), (g.shape, d.shape)
        assert head["identity"] == teacher.identity
        n += 1
    return n


def test_two_processes_write_the_same_keys(tmp_path):
    results = _run([(str(tmp_path), 0, 6, 2**30), (str(tmp_path), 0, 6, 2**30)])
    assert all(r[0] == "ok" for r in results), results
    cache = FeatureCache(tmp_path)
    seen = {i for r in range(6) for i in range(24)[_window(r)]}
    # the same views in both processes: one valid entry each
    assert _all_entries_valid(cache) == len(seen)
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind
    # and a third process-free read gets them all from disk
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no entry may be reported corrupt
        idx = sorted(seen)
        out = cache.get_or_compute(SlowishTeacher(), _images(0)[idx], key_extra="mp")
    assert cache.stats["hits"] == len(seen) and cache.stats["misses"] == 0
    assert torch.equal(out.dense, SlowishTeacher()(_images(0)[idx]).dense)


def test_concurrent_writers_under_eviction_stay_bounded_and_valid(tmp_path):
    probe = FeatureCache(tmp_path / "probe")
    probe.get_or_compute(SlowishTeacher(), _images(9, 1))
    entry = probe.entries()[0][1]
    max_bytes = 20 * entry
    results = _run([(str(tmp_path / "c"), s, 8, max_bytes) for s in (1, 2, 3)])
    assert all(r[0] == "ok" for r in results), results
    cache = FeatureCache(tmp_path / "c", max_bytes=max_bytes)
    assert _all_entries_valid(cache) > 0
    # each process re-checks the folder after max_bytes/8 of its own writes: a bounded overshoot
    assert cache.size_bytes() <= max_bytes * (1 + 3 / 8) + 3 * 8 * entry
    cache.evict(only_if_over=True)
    assert cache.size_bytes() <= max_bytes


class _Views(torch.utils.data.Dataset):
    def __len__(self): return 16
    def __getitem__(self, i):  # 4 distinct groups, each seen by every worker
        return _images(i // 4, 4)[i % 4]


def test_dataloader_workers_share_a_cache(tmp_path):
    cache, teacher = FeatureCache(tmp_path), SlowishTeacher()

    def collate(batch):
        imgs = torch.stack(batch)
        return cache.get_or_compute(teacher, imgs, key_extra="dl"), imgs

    dl = torch.utils.data.DataLoader(_Views(), batch_size=4, num_workers=2, collate_fn=collate,
                                     multiprocessing_context="fork")
    for _ in range(2):
        for out, imgs in dl:
            assert torch.equal(out.dense, teacher(imgs).dense)
    assert _all_entries_valid(cache) == 16


def test_float16_storage(tmp_path):
    teacher, imgs = SlowishTeacher(), _images(5, 3)
    half, full = FeatureCache(tmp_path / "h", dtype=torch.float16), FeatureCache(tmp_path / "f")
    first = half.get_or_compute(teacher, imgs)
    full.get_or_compute(teacher, imgs)
    assert torch.equal(first.dense, first.dense.half().float())  # the same computed or read
    a = half.get_or_compute(teacher, imgs[:1])  # computed earlier: returned as stored (float16)
    b = half.get_or_compute(teacher, imgs)
    assert half.stats["hits"] == 4 and b.dense.dtype == torch.float32
    assert torch.equal(a.dense[0], b.dense[0]) and torch.equal(b.dense, b.dense.half().float())
    torch.testing.assert_close(b.dense, teacher(imgs).dense, atol=2e-3, rtol=2e-3)
    assert half.size_bytes() < full.size_bytes()
