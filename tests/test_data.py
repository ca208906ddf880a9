from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from molvae.errors import DataError
from molvae.smiles.corpus import load_corpus, write_rejected_report
from molvae.smiles.files import read_rows
from molvae.training.batching import collate


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_bom_crlf_and_padded_header_are_handled(tmp_path: Path) -> None:
    f = write(tmp_path / "a.csv", b"\xef\xbb\xbfid, SMILES \r\n1,CCO\r\n2, c1ccccc1 \r\n")
    corpus = load_corpus(f)
    assert corpus.column == "SMILES" and corpus.smiles == ["CCO", "c1ccccc1"]
    assert corpus.lines.tolist() == [2, 3] and corpus.rejected == []


def test_smiles_column_any_case_else_first_column(tmp_path: Path) -> None:
    assert read_rows(write(tmp_path / "a.csv", "name,Smiles\nx,CCO\n"))[1] == [(2, "CCO")]
    assert read_rows(write(tmp_path / "b.csv", "mol,name\nCCO,x\n")) == ("mol", [(2, "CCO")])


def test_named_column_and_wrong_name_lists_columns(tmp_path: Path) -> None:
    f = write(tmp_path / "a.csv", "a,b\nCCO,CCN\n")
    assert read_rows(f, "b")[1] == [(2, "CCN")]
    with pytest.raises(DataError, match=r"no column 'smile'; the columns are \['a', 'b'\]"):
        read_rows(f, "smile")


def test_headerless_one_column_csv_keeps_its_first_molecule(tmp_path: Path) -> None:
    corpus = load_corpus(write(tmp_path / "a.csv", "CCO\nCCN\n"))
    assert corpus.smiles == ["CCO", "CCN"] and corpus.lines.tolist() == [1, 2]


def test_smi_file_first_field_with_and_without_header(tmp_path: Path) -> None:
    assert read_rows(write(tmp_path / "a.smi", "CCO ethanol\nc1ccccc1\tbenzene\n")) == ("", [(1, "CCO"), (2, "c1ccccc1")])
    assert read_rows(write(tmp_path / "b.txt", "smiles name\nCCO x\n")) == ("", [(2, "CCO")])


def test_gzipped_csv(tmp_path: Path) -> None:
    f = write(tmp_path / "a.csv.gz", gzip.compress(b"smiles\nCCO\nCCN\n"))
    assert load_corpus(f).smiles == ["CCO", "CCN"]


def test_every_bad_row_is_reported_with_line_value_and_reason(tmp_path: Path) -> None:
    text = "smiles,x\nCCO,1\n,2\nC1CC,3\nOCC,4\nnan,5\nC(C)(C)(C)(C)C,6\n" + "C" * 30 + ",7\n[Xe]CC,8\n"
    corpus = load_corpus(write(tmp_path / "a.csv", text), max_length=20)
    assert corpus.smiles == ["CCO", "CC[Xe]"]
    got = [(r.line, r.raw, r.reason) for r in corpus.rejected]
    assert got == [
        (3, "", "empty"),
        (4, "C1CC", "invalid SMILES"),
        (5, "OCC", "duplicate (of line 2)"),
        (6, "nan", "empty"),
        (7, "C(C)(C)(C)(C)C", "invalid SMILES"),
        (8, "C" * 30, "too long (30 tokens > max_length = 20)"),
    ]
    assert corpus.n_rows == 8
    assert "8 rows, 2 molecules kept, 6 rejected" in corpus.summary()


def test_rejected_report_is_a_csv_of_line_raw_reason(tmp_path: Path) -> None:
    corpus = load_corpus(write(tmp_path / "a.csv", 'smiles\nCCO\n"C1,CC"\n'))
    report = write_rejected_report(corpus.rejected, tmp_path / "rejected.csv")
    assert report.read_text() == 'line,raw,reason\n3,"C1,CC",invalid SMILES\n'


def test_a_huge_line_is_rejected_without_parsing(tmp_path: Path) -> None:
    corpus = load_corpus(write(tmp_path / "a.csv", "smiles\nCCO\n" + "C" * 1_000_000 + "\n"))
    assert corpus.smiles == ["CCO"] and corpus.rejected[0].reason.startswith("too long (1000000 characters")
    assert len(corpus.rejected[0].raw) == 200


def test_strict_stops_at_the_first_bad_row(tmp_path: Path) -> None:
    f = write(tmp_path / "a.csv", "smiles\nCCO\nC1CC\n,\n")
    with pytest.raises(DataError, match=r"a.csv:3: 'C1CC': invalid SMILES \(strict"):
        load_corpus(f, strict=True)


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "the file is empty"),
        ("smiles\n", "no data rows, only a header"),
        ("smiles\nC1CC\n\n", "no usable molecule"),
        (b"smiles\nCCO\n\xff\xfe\n", r"a.csv:3: byte 0xff is not valid UTF-8"),
        (b"\x00\x01\x02binary", "binary file"),
    ],
)
def test_unusable_files_raise_data_error(tmp_path: Path, content: str | bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_corpus(write(tmp_path / "a.csv", content))


def test_missing_file_directory_truncated_gzip_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_corpus(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        load_corpus(tmp_path)
    data = gzip.compress(b"smiles\n" + b"CCO\n" * 1000)
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        load_corpus(write(tmp_path / "t.csv.gz", data[: len(data) // 2]))
    with pytest.raises(DataError, match="unsupported file type"):
        load_corpus(write(tmp_path / "a.xlsx", "smiles\nCCO\n"))


def test_cache_is_used_and_rebuilt_when_file_or_settings_change(tmp_path: Path) -> None:
    f = write(tmp_path / "a.csv", "smiles\nCCO\nCCCCCC\n")
    first = load_corpus(f)
    second = load_corpus(f)
    assert not first.from_cache and second.from_cache
    assert second.smiles == first.smiles and np.array_equal(second.ids, first.ids)
    assert second.vocab == first.vocab
    other_settings = load_corpus(f, max_length=3)
    assert not other_settings.from_cache and other_settings.smiles == ["CCO"]
    write(f, "smiles\nCCO\nCCN\n")
    changed = load_corpus(f)
    assert not changed.from_cache and changed.smiles == ["CCO", "CCN"]


def test_damaged_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path / "cache"))
    f = write(tmp_path / "a.csv", "smiles\nCCO\n")
    load_corpus(f)
    for cached in (tmp_path / "cache").iterdir():
        cached.write_bytes(b"garbage")
    again = load_corpus(f)
    assert not again.from_cache and again.smiles == ["CCO"]


def test_token_ids_decode_back_to_the_canonical_smiles(small_csv: Path) -> None:
    corpus = load_corpus(small_csv)
    ids, lengths = collate(corpus.ids, corpus.lengths, np.arange(len(corpus.smiles)))
    assert corpus.vocab.decode(ids) == corpus.smiles
    assert lengths.tolist() == [len(corpus.vocab.token_ids(s)) + 2 for s in corpus.smiles]


def test_kekule_corpus_keeps_canonical_smiles_and_tokenizes_their_kekule_forms(small_csv: Path) -> None:
    from rdkit import Chem

    aromatic = load_corpus(small_csv)
    kekule = load_corpus(small_csv, kekule=True)
    assert not kekule.from_cache  # its own cache entry, not the aromatic one
    assert kekule.smiles == aromatic.smiles  # canonical SMILES (novelty, reconstruction) are unchanged
    assert not any(t in kekule.vocab.index for t in ("c", "n", "o", "s", "[nH]"))
    ids, _ = collate(kekule.ids, kekule.lengths, np.arange(len(kekule.smiles)))
    written = kekule.vocab.decode(ids)
    assert [Chem.MolToSmiles(Chem.MolFromSmiles(w)) for w in written] == kekule.smiles  # same molecules
    assert load_corpus(small_csv, kekule=True).from_cache
