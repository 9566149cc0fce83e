import pytest
import torch

from coursekit.runtime import Budget, get_budget, get_device, module_device, seed_everything


class TestGetDevice:
    def test_auto_is_available(self):
        dev = get_device("auto")
        assert dev.type in ("cpu", "cuda", "mps")
        if torch.cuda.is_available():
            assert dev.type == "cuda"

    def test_none_means_auto(self):
        assert get_device(None) == get_device("auto")

    def test_explicit_cpu(self):
        assert get_device("cpu") == torch.device("cpu")
        assert get_device(torch.device("cpu")) == torch.device("cpu")

    def test_unknown_name(self):
        with pytest.raises(ValueError, match="unknown device"):
            get_device("tpu-of-dreams")

    @pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
    def test_cuda_missing(self):
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device("cuda")


class TestSeedEverything:
    def test_returns_seeded_generator(self):
        a = torch.randn(5, generator=seed_everything(3))
        b = torch.randn(5, generator=seed_everything(3))
        c = torch.randn(5, generator=seed_everything(4))
        assert torch.equal(a, b) and not torch.equal(a, c)

    def test_seeds_global_state(self):
        import random

        import numpy as np

        seed_everything(7)
        first = (random.random(), np.random.rand(), torch.rand(1).item())
        seed_everything(7)
        assert first == (random.random(), np.random.rand(), torch.rand(1).item())

    @pytest.mark.parametrize("bad", [-1, 1.5, "0"])
    def test_bad_seed(self, bad):
        with pytest.raises(ValueError, match="seed"):
            seed_everything(bad)


class TestBudget:
    def test_pick(self):
        assert Budget("cpu").pick(cpu=1, gpu=2) == 1
        assert Budget("gpu").pick(cpu=1, gpu=2) == 2

    def test_invalid(self):
        with pytest.raises(ValueError, match="budget"):
            Budget("huge")

    def test_cpu_device_gets_cpu_budget(self, monkeypatch):
        monkeypatch.delenv("COURSEKIT_BUDGET", raising=False)
        assert get_budget("cpu").name == "cpu"

    def test_env_override(self, monkeypatch):
        monkeypatch.setenv("COURSEKIT_BUDGET", "gpu")
        assert get_budget("cpu").name == "gpu"
        monkeypatch.setenv("COURSEKIT_BUDGET", "tiny")
        with pytest.raises(ValueError, match="COURSEKIT_BUDGET"):
            get_budget("cpu")


def test_native_bfloat16_reads_the_cpu_flags(tmp_path):
    from coursekit.runtime import native_bfloat16

    info = tmp_path / "cpuinfo"
    for flags, expected in (("fpu sse avx2 avx512f", False), ("fpu avx512f avx512_bf16", True),
                            ("fpu amx_tile amx_bf16", True)):
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\nbugs\t\t: none\n")
        assert native_bfloat16("cpu", cpuinfo=str(info)) is expected
    assert native_bfloat16("cpu", cpuinfo=str(tmp_path / "missing")) is False


class TestPrecisionPolicy:
    def test_reports_the_switches_and_changes_none(self):
        from coursekit.runtime import precision_policy

        saved = torch.backends.cudnn.allow_tf32
        try:
            torch.backends.cudnn.allow_tf32 = True
            assert precision_policy()["cudnn_conv_tf32"] is True
            torch.backends.cudnn.allow_tf32 = False
            policy = precision_policy()
            assert policy["cudnn_conv_tf32"] is False
            assert torch.backends.cudnn.allow_tf32 is False  # read, never set
            assert policy["float32_matmul_precision"] == torch.get_float32_matmul_precision()
        finally:
            torch.backends.cudnn.allow_tf32 = saved


def test_module_device():
    assert module_device(torch.nn.Linear(1, 1)) == torch.device("cpu")
    bn = torch.nn.BatchNorm1d(2, affine=False)  # buffers only
    assert module_device(bn) == torch.device("cpu")
    assert module_device(torch.nn.Identity()) is None
    assert module_device(lambda x: x, default=torch.device("cpu")) == torch.device("cpu")


def test_total_memory():
    from coursekit.runtime import total_memory

    cpu = total_memory("cpu")
    assert cpu is None or cpu > 2**24
    if torch.cuda.is_available():
        assert total_memory("cuda") > 2**24
