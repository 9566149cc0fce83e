"""The registry of real datasets: every file the notebooks read, where its bytes come from upstream.

Each :class:`CourseFile` is one file the loaders read (``ecg/mitdb_100.npz``, ``art/great_wave.jpg``,
...), at the same relative path under ``COURSEKIT_DATA`` and under the download cache. It is made
from one or more :class:`Upstream` files, each pinned by URL, sha256 and size, by a named conversion
of :mod:`coursekit.data.convert`. ``Upstream.verified`` says how the sha256 was checked: every hash
below was computed here from the real upstream bytes (git blobs of the pinned commits, the PyPI
wheel of nilearn, the official MedMNIST files), never copied from elsewhere.

Where a GitHub commit is pinned, the URL names the commit, so the bytes cannot change under it.
``local_sha256`` is the sha256 of the course file in the course team's shared data folder, which
``coursekit data verify`` checks a ``COURSEKIT_DATA`` folder against (a conversion made on another
machine, with another Pillow, may differ in its bytes and still be the same painting).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REGISTRY", "CourseFile", "Upstream", "by_path", "select"]


@dataclass(frozen=True)
class Upstream:
    """One upstream file, exactly as it is downloaded.

    Attributes:
        url: where it is downloaded from.
        sha256: its sha256, hex.
        size: its size in bytes.
        verified: how the sha256 was checked.
    """

    url: str
    sha256: str
    size: int
    verified: str


@dataclass(frozen=True)
class CourseFile:
    """A file the course reads, and how it is made from upstream files.

    Attributes:
        name: short name (``coursekit data fetch NAME``).
        path: path relative to ``COURSEKIT_DATA`` and to the cache.
        upstream: the files it is made from.
        convert: the conversion's name in :data:`coursekit.data.convert.CONVERSIONS`.
        conversion: what the conversion does, in words.
        licence: licence and credit line.
        local_sha256: sha256 of the course team's shared copy of ``path``.
        note: a provenance line the conversion stores in the file (npz ``source``), if any.
    """

    name: str
    path: str
    upstream: tuple[Upstream, ...]
    convert: str
    conversion: str
    licence: str
    local_sha256: str
    note: str = ""

    @property
    def size(self) -> int:
        """Bytes to download: the sum of the upstream files' sizes."""
        return sum(u.size for u in self.upstream)


_GH = "https://raw.githubusercontent.com"
_NEURAL_STYLE = f"{_GH}/jcjohnson/neural-style/07c4b8299f8fbdafec0c514fc820ff1d7ff62e46/examples/inputs"
_FAST_STYLE = f"{_GH}/jcjohnson/fast-neural-style/813c83441953ead2adb3f65f4cc2d5599d735fa7/images/styles"
_WFDB = f"{_GH}/MIT-LCP/wfdb-python/6850ad1aa0c1fcb2282b3625f767de98396cf740/sample-data"
_MITDB_VERIFIED = ("sha256 of the git blob at the pinned commit of MIT-LCP/wfdb-python (git show "
                   "6850ad1:sample-data/...; the PhysioNet mitdb 1.0.0 originals); decoded here, all "
                   "arrays equal the shared ecg/mitdb_100.npz")
_PAINTING_VERIFIED = ("sha256 of the git blob at the pinned commit (git show <commit>:<path>, a mirror of "
                      "the repository); the 512 px conversion was compared with the shared art/ copy")
_PD = "Public domain (author died over 100 years ago). Credit: {}; image from {}."
_PD_US_EU = ("Public domain in the US (pre-1931 work) and in life+70 countries since 2015, NOT "
             "worldwide (e.g. Mexico, life+100). Credit: {}; image from {}.")
_MITDB_CREDIT = ("Open Data Commons Attribution v1.0 (PhysioNet mitdb 1.0.0). Cite Moody GB, Mark RG, "
                 "IEEE Eng Med Biol 20(3):45-50 (2001) and Goldberger AL et al., Circulation "
                 "101(23):e215-e220 (2000).")
_MEDMNIST_CREDIT = ("CC BY 4.0. Cite Yang J. et al., 'MedMNIST v2', Scientific Data 10, 41 (2023); "
                    "adrenal shapes from Zhongshan Hospital, Fudan University.")
_MEDMNIST_VERIFIED = ("the course team's copy has the MD5 that medmnist 3.0.2's info.py gives for this "
                      "Zenodo URL ({}), so it is the official file; sha256 and size hashed from it")


def _painting(name: str, url: str, sha256: str, size: int, original: str, credit: str,
              local_sha256: str) -> CourseFile:
    return CourseFile(
        name=name, path=f"art/{name}.jpg",
        upstream=(Upstream(url, sha256, size, _PAINTING_VERIFIED),),
        convert="painting",
        conversion=f"{url.rsplit('/', 1)[1]} ({original}) -> RGB, Lanczos resize to a longer side of "
                   f"512 px, JPEG quality 90 -> art/{name}.jpg",
        licence=credit, local_sha256=local_sha256,
    )


REGISTRY: dict[str, CourseFile] = {f.name: f for f in (
    CourseFile(
        name="olivetti", path="scikit_learn_data/olivetti_py3.pkz",
        upstream=(Upstream(
            f"{_GH}/sjgershm/DBM/a30d9abb523aab874a299b8b1aa21e7df2023f60/olivettifaces.mat",
            "b1988d02c72fe5b8ee82b5ef3bb7982eafc74f1e1ff0ae0ade35061ad0af534d", 1432511,
            "sha256 of the git blob at the pinned commit of sjgershm/DBM (git show "
            "a30d9ab:olivettifaces.mat); the decoded faces equal the shared olivetti_py3.pkz array. "
            "It holds the same data as the figshare file scikit-learn downloads, re-saved in MATLAB "
            "(other bytes); the figshare file's sha256 could not be checked here, so it is not used"),),
        convert="olivetti",
        conversion="olivettifaces.mat -> faces (4096, 400) uint8, transposed, joblib compress=6 -> "
                   "scikit_learn_data/olivetti_py3.pkz (the cache scikit-learn's "
                   "fetch_olivetti_faces reads)",
        licence="Credit AT&T Laboratories Cambridge (ORL database); no other licence published. "
                "Cite Samaria F., Harter A., IEEE WACV 1994.",
        local_sha256="47398b319d88c78459514b30b87c562313aad345b5c6a387b678d7f8177be4ba",
    ),
    CourseFile(
        name="mitdb_100", path="ecg/mitdb_100.npz",
        upstream=(
            Upstream(f"{_WFDB}/100.hea", "95fbdda0454fffae1a2dab1a5ac53e924ae97691c028cdd3ee82f2446b73c066",
                     166, _MITDB_VERIFIED),
            Upstream(f"{_WFDB}/100.dat", "b2ea3c250e56e48f4b7b90697832b8ecd1afa1e0bb31f2dcfea4ed6e1075a639",
                     1950000, _MITDB_VERIFIED),
            Upstream(f"{_WFDB}/100.atr", "8d8a5349fb16638ebbf649f1779d12e96d91b736b2aafe59db43719ae583d471",
                     4558, _MITDB_VERIFIED),
        ),
        convert="mitdb",
        conversion="100.hea + 100.dat (WFDB format 212) + 100.atr (MIT annotations) -> signal "
                   "(650000, 2) float32 mV = (adc - 1024) / 200, annotations -> ecg/mitdb_100.npz",
        licence=_MITDB_CREDIT,
        local_sha256="180fd007186dc097914874c66e2e536d1187a60bbdb229c677c8ab36d0f0f4bd",
    ),
    CourseFile(
        name="ecg_208", path="ecg/scipy_ecg_mitdb208.npz",
        upstream=(Upstream(
            f"{_GH}/scipy/dataset-ecg/e35b2263c86aff8f8a3aa7c3eb3d90f2b07c70d2/ecg.dat",
            "f20ad3365fb9b7f845d0e5c48b6fe67081377ee466c3a220b7f69f35c8958baf", 119035,
            "sha256 of the git blob at the pinned commit of scipy/dataset-ecg (git show e35b226:ecg.dat); "
            "equal to the value in scipy's own registry (scipy/datasets/_registry.py, scipy 1.17.1), "
            "the file scipy.datasets.electrocardiogram downloads"),),
        convert="scipy_ecg",
        conversion="ecg.dat (npz, 'ecg' uint16) -> (ecg - 1024) / 200 as scipy does, float32 (108000,) "
                   "-> ecg/scipy_ecg_mitdb208.npz",
        licence=_MITDB_CREDIT + " An excerpt (19:35-24:35) of MIT-BIH record 208, as shipped by SciPy.",
        local_sha256="8ea3dea753af5335a824291da03486cd83690ca5b13fb67cca6adae2fab74ae8",
    ),
    CourseFile(
        name="adrenalmnist3d", path="volumes/adrenalmnist3d.npz",
        upstream=(Upstream(
            "https://zenodo.org/records/10519652/files/adrenalmnist3d.npz?download=1",
            "8ffd78c0f000265deb7cf4ee0b454136fb3170f9839ecaa7bb01adf9f88aa7d1", 276833,
            _MEDMNIST_VERIFIED.format("bbd3c5a5576322bc4cdfea780653b1ce")),),
        convert="copy", conversion="none: the official file is the course file",
        licence=_MEDMNIST_CREDIT,
        local_sha256="8ffd78c0f000265deb7cf4ee0b454136fb3170f9839ecaa7bb01adf9f88aa7d1",
    ),
    CourseFile(
        name="adrenalmnist3d_64", path="volumes/adrenalmnist3d_64.npz",
        upstream=(Upstream(
            "https://zenodo.org/records/10519652/files/adrenalmnist3d_64.npz?download=1",
            "124a53ea2c66c8ac1985a4c98ea6f34d1ab35bdab1dc50947f80d4a87e54057d", 1880591,
            _MEDMNIST_VERIFIED.format("17721accfe9fb005146a47d33bc54b2f")),),
        convert="copy", conversion="none: the official file is the course file",
        licence=_MEDMNIST_CREDIT,
        local_sha256="124a53ea2c66c8ac1985a4c98ea6f34d1ab35bdab1dc50947f80d4a87e54057d",
    ),
    CourseFile(
        name="ct_head", path="volumes/ct_head_unc_10slices.npz",
        upstream=(Upstream(
            f"{_GH}/scikit-image/scikit-image/aaeb2ffb8646336b0c7f6ca6b3f49eadf7296804/skimage/data/brain.tiff",
            "667efb73cad96ee8ee2b97f12198ce3c84a42abb62fd7dbd7e111c11d186d1a0", 1312234,
            "sha256 of the git blob at the pinned commit of scikit-image (git show "
            "aaeb2ff:skimage/data/brain.tiff); the decoded volume equals the shared npz. (scikit-image's "
            "current registry names another file, on GitLab, with another sha256; it is not used)"),),
        convert="tiff_stack",
        conversion="brain.tiff (10 pages, 256x256, 16 bit) -> volume (10, 256, 256) uint16 -> "
                   "volumes/ct_head_unc_10slices.npz",
        licence="No explicit licence published. Credit the University of North Carolina at Chapel Hill "
                "(UNC Volume Rendering Test Data Set, CT head subset), via scikit-image.",
        local_sha256="764a6722351a6a2216c82606245ced7289bad021de9589a97fb243cee05e6e01",
        note="scikit-image skimage/data/brain.tiff @ commit aaeb2ffb8 (UNC Volume Rendering Test Data "
             "Set, CT head subset); intensities rescaled, not Hounsfield units",
    ),
    CourseFile(
        name="mni152", path="volumes/mni_icbm152_t1_2009a.npz",
        upstream=(Upstream(
            f"{_GH}/nilearn/nilearn/0d0429a12efa131bf46bb30654f9d1630d950f73/nilearn/datasets/data/"
            "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
            "421a10e872fd6cadae7f61d358dffbcc1795a497d61ee76c5dda2503e1a1e9e6", 1617531,
            "sha256 of the git blob at nilearn's tag 0.14.0 (commit 0d0429a); the same sha256 as the "
            "file inside the PyPI wheel nilearn-0.14.1 (pip download); the decoded volume and affine "
            "equal the shared npz"),),
        convert="nifti",
        conversion="NIfTI-1 (gzip, uint8, 197x233x189, 1 mm) -> volume uint8 in the file's (x, y, z) "
                   "voxel order, sform affine -> volumes/mni_icbm152_t1_2009a.npz",
        licence="Copyright (C) 1993-2004 Louis Collins, McConnell Brain Imaging Centre, Montreal "
                "Neurological Institute, McGill University; use, copy and distribution permitted with "
                "this notice. Cite Fonov VS et al., NeuroImage 54(1), 2011 and NeuroImage 47 S102, 2009.",
        local_sha256="47c85ae35c18755a83018ef63b65bdcc36cb3240c5c47542f967f059848fe0a3",
        note="nilearn 0.14.1 nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    ),
    _painting("starry_night", f"{_NEURAL_STYLE}/starry_night.jpg",
              "0592ab0f7b51b3ce72608a95e53880bd93971e5b48f93a0ce8dfd3cbccf3d098", 315236, "1024x640",
              _PD.format("Vincent van Gogh, The Starry Night, 1889", "jcjohnson/neural-style"),
              "5af1ee0212a5ef93a8c7fa789e037bdf940a190cafe8b11d0bd2fef83b56004e"),
    _painting("great_wave", f"{_FAST_STYLE}/wave.jpg",
              "14bcf58a39b7095168f27756d76d0c615bb8954acc5eae9e62c66a9684c2ee2b", 148634, "928x514",
              _PD.format("Katsushika Hokusai, The Great Wave off Kanagawa, c. 1831",
                         "jcjohnson/fast-neural-style"),
              "5fb186e59aa47445a35267bd9c1edc1576704cb0968ff3f266705d2afc3949ec"),
    _painting("turner_shipwreck", f"{_NEURAL_STYLE}/shipwreck.jpg",
              "4f7cf34e3cd4a5daaf3f421f059ca9a01aaa2a3afd7243d6670c9c8bc001a213", 144730, "960x662",
              _PD.format("J. M. W. Turner, The Shipwreck, 1805", "jcjohnson/neural-style"),
              "f26d7671ed5bda1cec2b1f624c0fb0d25187bc9ec0f44c2cf6fbd2a92b2a31e2"),
    _painting("the_scream", f"{_NEURAL_STYLE}/the_scream.jpg",
              "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee", 216723, "1200x1528",
              _PD_US_EU.format("Edvard Munch, The Scream, 1893", "jcjohnson/neural-style"),
              "b4c5cf12aa0e179fdc535be0ab929f9e510ee2da154638098503eeabeb01782c"),
    _painting("composition_vii", f"{_FAST_STYLE}/composition_vii.jpg",
              "8f992ed4aecd6dd56972d7bc8166761de7c94e670ee6effa8fd05f3daeb33409", 202426, "1071x712",
              _PD_US_EU.format("Wassily Kandinsky, Composition VII, 1913", "jcjohnson/fast-neural-style"),
              "b8f305f7e59ccf96931857ebb0bc23948b04911eb9c0b586b1f7b3aec557bec7"),
)}
"""Every course file with real data, by name."""


def by_path(path: str) -> CourseFile | None:
    """The registry entry whose course file is ``path`` (relative, with ``/``), or ``None``.

    Example:
        >>> by_path("ecg/mitdb_100.npz").name, by_path("no/such.npz") is None
        ('mitdb_100', True)
    """
    for entry in REGISTRY.values():
        if entry.path == path:
            return entry
    return None


def select(names: list[str] | None = None) -> list[CourseFile]:
    """Registry entries by name; a folder name (``art``, ``ecg``, ``volumes``) selects its files.

    Args:
        names: names or folders; ``None`` or empty: the whole registry.

    Returns:
        The entries, in registry order.

    Example:
        >>> [e.name for e in select(["ecg", "ct_head"])]
        ['mitdb_100', 'ecg_208', 'ct_head']
    """
    if not names:
        return list(REGISTRY.values())
    known = set(REGISTRY) | {e.path.split("/")[0] for e in REGISTRY.values()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; expected names from {sorted(known)}")
    return [e for e in REGISTRY.values() if e.name in names or e.path.split("/")[0] in names]
