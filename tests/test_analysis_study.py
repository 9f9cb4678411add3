"""The study's analyses reproduced from the shipped scores (srarena/data/study).

The pinned numbers were computed from the study's published per-image JSON the way the study's
own code does (pandas means; ``nsmallest``/``nlargest`` of 10 and ``isin`` on file names for
the behaviour analysis; ``scipy.stats.kendalltau``/``pearsonr``/``shapiro``). The study's paper
could not be consulted from here, so these pin what the data give.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from importlib.resources import files

import pandas as pd
import pytest

from srarena import open_run
from srarena.analysis import analyze, import_score_files, load_scores, study_scores
from srarena.analysis.io import FALLBACK_DIRECTIONS, Scores

NIQE_PER_DATASET = [
    ("condoaerial", "MoESR", 14.648013, "BlindSR", 20.611777),
    ("massachbuildings", "MoESR", 16.427236, "BlindSR", 22.199742),
    ("ships", "APA", 17.688239, "BlindSR", 22.534419),
    ("ufsm-flame", "APA", 15.492423, "BlindSR", 21.684649),
    ("catsfaces", "MoESR", 14.629656, "BlindSR", 18.702201),
    ("dogsfaces", "MoESR", 15.314877, "BlindSR", 18.961343),
    ("flowers", "MoESR", 14.615974, "BlindSR", 18.174120),
    ("plantpat", "APA", 15.241252, "BlindSR", 21.668490),
    ("melanomaisic", "APA", 15.025945, "BlindSR", 18.717661),
    ("structretina", "APA", 14.520624, "BlindSR", 16.517888),
    ("amazonia1", "APA", 16.027069, "BlindSR", 23.698020),
    ("cbers4a", "APA", 16.398990, "DAN", 17.438634),
    ("deepglobe", "APA", 16.863639, "BlindSR", 24.726333),
    ("isaid", "MoESR", 14.385091, "BlindSR", 21.504252),
]
MANIQA_PER_DATASET = [
    ("condoaerial", "MoESR", 0.657257, "FastGAN", 0.409388),
    ("massachbuildings", "DAN", 0.696858, "FastGAN", 0.525381),
    ("ships", "DAN", 0.577708, "FastGAN", 0.492311),
    ("ufsm-flame", "DAN", 0.618042, "FastGAN", 0.493545),
    ("catsfaces", "MoESR", 0.713253, "FastGAN", 0.611105),
    ("dogsfaces", "MoESR", 0.638982, "FastGAN", 0.515693),
    ("flowers", "MoESR", 0.698373, "FastGAN", 0.533008),
    ("plantpat", "MoESR", 0.606683, "APA", 0.430053),
    ("melanomaisic", "DAN", 0.542052, "FastGAN", 0.449874),
    ("structretina", "MoESR", 0.614705, "APA", 0.432007),
    ("amazonia1", "MoESR", 0.579970, "FastGAN", 0.417986),
    ("cbers4a", "MoESR", 0.408773, "FastGAN", 0.327089),
    ("deepglobe", "MoESR", 0.591723, "APA", 0.330667),
    ("isaid", "DAN", 0.736443, "FastGAN", 0.445917),
]
NIQE_PER_DOMAIN = [
    ("Aerial", "condoaerial", "MoESR", 14.648013, "ships", "BlindSR", 22.534419),
    ("Fauna", "catsfaces", "MoESR", 14.629656, "dogsfaces", "BlindSR", 18.961343),
    ("Flora", "flowers", "MoESR", 14.615974, "plantpat", "BlindSR", 21.668490),
    ("Medical", "structretina", "APA", 14.520624, "melanomaisic", "BlindSR", 18.717661),
    ("Satellite", "isaid", "MoESR", 14.385091, "deepglobe", "BlindSR", 24.726333),
]
MANIQA_PER_DOMAIN = [
    ("Aerial", "massachbuildings", "DAN", 0.696858, "condoaerial", "FastGAN", 0.409388),
    ("Fauna", "catsfaces", "MoESR", 0.713253, "dogsfaces", "FastGAN", 0.515693),
    ("Flora", "flowers", "MoESR", 0.698373, "plantpat", "APA", 0.430053),
    ("Medical", "structretina", "MoESR", 0.614705, "structretina", "APA", 0.432007),
    ("Satellite", "isaid", "DAN", 0.736443, "cbers4a", "FastGAN", 0.327089),
]
# I% per dataset: (winner, dataset, I%)
NIQE_IMPROVEMENT = [
    ("APA", "ships", 3.006428), ("APA", "ufsm-flame", 0.788338), ("APA", "plantpat", 3.705130),
    ("APA", "melanomaisic", 12.488740), ("APA", "structretina", 9.597495),
    ("APA", "amazonia1", 6.328828), ("APA", "cbers4a", 3.896127), ("APA", "deepglobe", 3.409588),
    ("MoESR", "condoaerial", 4.401757), ("MoESR", "massachbuildings", 2.030727),
    ("MoESR", "catsfaces", 6.472070), ("MoESR", "dogsfaces", 0.848073),
    ("MoESR", "flowers", 1.170907), ("MoESR", "isaid", 4.358117),
]
MANIQA_IMPROVEMENT = [
    ("MoESR", "condoaerial", 0.632682), ("MoESR", "catsfaces", 4.644859),
    ("MoESR", "dogsfaces", 5.546170), ("MoESR", "flowers", 3.473740),
    ("MoESR", "plantpat", 4.921724), ("MoESR", "structretina", 0.853798),
    ("MoESR", "amazonia1", 6.068819), ("MoESR", "cbers4a", 1.223069),
    ("MoESR", "deepglobe", 1.904216), ("DAN", "massachbuildings", 3.245126),
    ("DAN", "ships", 1.133623), ("DAN", "ufsm-flame", 1.555242),
    ("DAN", "melanomaisic", 0.145471), ("DAN", "isaid", 1.328188),
]
# (dataset, |C_B|, |N_B|, |C_W|, |N_W|) of MoESR vs DAN
NIQE_COUNTS = [
    ("condoaerial", 3, 7, 6, 4), ("massachbuildings", 3, 7, 5, 5), ("ships", 5, 5, 4, 6),
    ("ufsm-flame", 1, 9, 8, 2), ("catsfaces", 5, 5, 4, 6), ("dogsfaces", 5, 5, 5, 5),
    ("flowers", 6, 4, 3, 7), ("plantpat", 4, 6, 4, 6), ("melanomaisic", 6, 4, 4, 6),
    ("structretina", 4, 6, 4, 6), ("amazonia1", 6, 4, 3, 7), ("cbers4a", 4, 6, 4, 6),
    ("deepglobe", 4, 6, 4, 6), ("isaid", 3, 7, 5, 5),
]
MANIQA_COUNTS = [
    ("condoaerial", 7, 3, 7, 3), ("massachbuildings", 6, 4, 7, 3), ("ships", 7, 3, 4, 6),
    ("ufsm-flame", 5, 5, 8, 2), ("catsfaces", 8, 2, 9, 1), ("dogsfaces", 8, 2, 9, 1),
    ("flowers", 10, 0, 8, 2), ("plantpat", 9, 1, 7, 3), ("melanomaisic", 10, 0, 9, 1),
    ("structretina", 8, 2, 9, 1), ("amazonia1", 8, 2, 6, 4), ("cbers4a", 7, 3, 8, 2),
    ("deepglobe", 3, 7, 7, 3), ("isaid", 7, 3, 7, 3),
]


@pytest.fixture(scope="module")
def study():
    return analyze(load_scores(study=True), n_resamples=0, beyond=False)


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(r) for r in frame[columns].itertuples(index=False)]


def _same(got: list[tuple], expected: list[tuple]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(sorted(got, key=str), sorted(expected, key=str), strict=True):
        assert len(g) == len(e)
        for a, b in zip(g, e, strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b, abs=5e-7), (g, e)
            else:
                assert a == b, (g, e)


def test_shipped_files_are_the_published_ones():
    folder = files("srarena").joinpath("data", "study")
    digests = {
        "df_niqe.json.gz": "cc9ed952244757aa89b2f8b33b3fed7042585bb9ebd1b7c36e8e23f7532349b6",
        "df_maniqa.json.gz": "530119942b9c491192d282ea22911e85fa841f82d59197eb990247253da0fb8a",
    }
    for name, digest in digests.items():
        raw = gzip.decompress(folder.joinpath(name).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == digest
    assert "vsantjr/DL_BlindSR" in folder.joinpath("PROVENANCE.md").read_text(encoding="utf-8")


def test_study_scores_layout():
    frame = study_scores()
    assert len(frame) == 14_000
    assert set(frame["metric"]) == {"niqe-study", "maniqa"}
    assert frame.groupby(["metric", "dataset", "upscaler"]).size().eq(100).all()
    modes = frame.groupby("upscaler")["mode"].first().to_dict()
    assert modes == {"APA": "generative", "FastGAN": "generative", "BlindSR": "single-image",
                     "DAN": "single-image", "MoESR": "single-image"}
    # suffixes stripped: single-image techniques share their 100 inputs on every dataset
    single = frame[frame["mode"] == "single-image"]
    shared = single.groupby(["metric", "dataset"]).apply(
        lambda g: len(set.intersection(*(set(v) for _, v in g.groupby("upscaler")["image_id"]))),
        include_groups=False)
    assert shared.eq(100).all()
    assert not frame["image_id"].str.contains(r"(?:_res|_x2_x4|\.png)$").any()


@pytest.mark.parametrize(("metric", "expected"), [("niqe-study", NIQE_PER_DATASET),
                                                  ("maniqa", MANIQA_PER_DATASET)])
def test_per_dataset_best_and_worst(study, metric, expected):
    table = study.metrics[metric].per_dataset
    _same(_rows(table, ["dataset", "best", "best_mean", "worst", "worst_mean"]), expected)


@pytest.mark.parametrize(("metric", "expected"), [("niqe-study", NIQE_PER_DOMAIN),
                                                  ("maniqa", MANIQA_PER_DOMAIN)])
def test_per_domain_best_and_worst(study, metric, expected):
    columns = ["domain", "best_dataset", "best_technique", "best_mean", "worst_dataset",
               "worst_technique", "worst_mean"]
    _same(_rows(study.metrics[metric].per_domain, columns), expected)


def test_domain_means_are_plain_means(study):
    table = study.metrics["niqe-study"].domain_means.set_index(["domain", "upscaler"])
    assert table.loc[("Medical", "APA"), "mean"] == pytest.approx(14.773285, abs=5e-7)
    assert table.loc[("Aerial", "MoESR"), "n"] == 400
    table = study.metrics["maniqa"].domain_means.set_index(["domain", "upscaler"])
    assert table.loc[("Fauna", "MoESR"), "mean"] == pytest.approx(0.676118, abs=5e-7)


@pytest.mark.parametrize(
    ("metric", "pair", "expected", "means"),
    [("niqe-study", ("APA", "MoESR"), NIQE_IMPROVEMENT, {"APA": 5.402584, "MoESR": 3.213609}),
     ("maniqa", ("MoESR", "DAN"), MANIQA_IMPROVEMENT, {"MoESR": 3.252120, "DAN": 1.481530})],
)
def test_improvement(study, metric, pair, expected, means):
    analysis = study.metrics[metric]
    assert analysis.pair == pair
    _same(_rows(analysis.improvement, ["winner", "dataset", "improvement_pct"]), expected)
    got = analysis.improvement_means.set_index("winner")["mean_improvement_pct"].to_dict()
    assert got == pytest.approx(means, abs=5e-7)


@pytest.mark.parametrize(
    ("metric", "counts", "tau", "tau_p", "r"),
    [("niqe-study", NIQE_COUNTS, -0.7342172, 0.0015398, -0.8611632),
     ("maniqa", MANIQA_COUNTS, 0.3069123, 0.1762743, 0.2797794)],
)
def test_behaviour(study, metric, counts, tau, tau_p, r):
    analysis = study.metrics[metric]
    assert analysis.behaviour_pair == ("MoESR", "DAN")
    _same(_rows(analysis.behaviour, ["dataset", "C_B", "N_B", "C_W", "N_W"]), counts)
    corr = analysis.behaviour_correlation.set_index("sets")
    for sets in ("C", "N"):  # N = 10 - C, so both give the same coefficients
        assert corr.loc[sets, "kendall_tau"] == pytest.approx(tau, abs=1e-6)
        assert corr.loc[sets, "kendall_p"] == pytest.approx(tau_p, abs=1e-6)
        assert corr.loc[sets, "pearson_r"] == pytest.approx(r, abs=1e-6)
    images = analysis.behaviour_images
    assert len(images) == 14 * 2 * 2 * 10


def test_niqe_behaviour_pair_skips_the_generative_best(study):
    analysis = study.metrics["niqe-study"]
    assert analysis.pair == ("APA", "MoESR")
    assert any("APA generative" in note for note in analysis.notes)


def test_verdict(study):
    verdict = study.verdict.set_index("metric")
    assert verdict.loc["niqe-study", "best"] == "APA"
    assert verdict.loc["niqe-study", "wins"] == 8
    assert verdict.loc["maniqa", "best"] == "MoESR"
    assert verdict.loc["maniqa", "wins"] == 9
    assert verdict.loc["overall", "best"] == "MoESR"
    assert verdict.loc["overall", "wins"] == 15


def test_directions_honoured(study):
    assert study.metrics["niqe-study"].higher_is_better is False
    assert study.metrics["maniqa"].higher_is_better is True
    assert FALLBACK_DIRECTIONS == {"niqe-study": False, "maniqa": True}


def test_imported_database_gives_the_same_tables(tmp_path, study):
    folder = files("srarena").joinpath("data", "study")
    paths = []
    for name in ("df_niqe.json.gz", "df_maniqa.json.gz"):
        path = tmp_path / name
        path.write_bytes(folder.joinpath(name).read_bytes())
        paths.append(path)
    db_path, _ = import_score_files(paths, tmp_path / "study.sqlite")
    run = open_run(db_path)
    assert run.metric_directions() == {"niqe-study": False, "maniqa": True}
    again = analyze(load_scores(db_path), n_resamples=0, beyond=False)
    for metric in ("niqe-study", "maniqa"):
        for name in ("per_dataset", "per_domain", "improvement", "behaviour"):
            pd.testing.assert_frame_equal(getattr(again.metrics[metric], name),
                                          getattr(study.metrics[metric], name))


def test_plain_json_and_metric_subset(tmp_path):
    rows = {str(i): {"dom": "D", "dset": "s", "tech": t, "file": f"low_{i % 4}_x2_x4_res.png",
                     "maniqa": 0.1 * (i % 4) + (0.05 if t == "A" else 0.0)}
            for i, t in enumerate(["A"] * 4 + ["B"] * 4)}
    path = tmp_path / "scores.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    scores = load_scores(path)
    assert set(scores.frame["image_id"]) == {"low_0", "low_1", "low_2", "low_3"}
    result = analyze(scores, n_resamples=0, beyond=False)
    assert result.metrics["maniqa"].per_dataset.iloc[0]["best"] == "A"
    assert result.metrics["maniqa"].improvement_means.iloc[0]["datasets"] == 1


def test_unknown_direction_is_an_error():
    frame = pd.DataFrame({"domain": "d", "dataset": "s", "upscaler": ["a", "b"], "mode": "x",
                          "image_id": "1", "metric": "mystery-metric", "value": [1.0, 2.0]})
    with pytest.raises(ValueError, match="--higher-better"):
        analyze(Scores(frame))
    result = analyze(Scores(frame), directions={"mystery-metric": False}, n_resamples=0,
                     beyond=False)
    assert result.metrics["mystery-metric"].per_dataset.iloc[0]["best"] == "a"
