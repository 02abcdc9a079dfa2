"""TFLM's op-resolver method names: a table read from TFLM's own header, not a naming rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgedigits.export.tflm_ops import RESOLVER_METHODS, parse_resolver_header, resolver_method

HEADER = (
    Path(os.environ.get("EDGEDIGITS_TFLM", Path(__file__).resolve().parents[2] / "shared" / "tflm"))
    / "include/tensorflow/lite/micro/micro_mutable_op_resolver.h"
)


def test_irregular_names_are_tflms():
    """CamelCase of the operator name would get these wrong (the issue's examples)."""
    assert resolver_method("BATCH_MATMUL") == "AddBatchMatMul"
    assert resolver_method("CUMSUM") == "AddCumSum"
    assert resolver_method("PADV2") == "AddPadV2"
    assert resolver_method("UNIDIRECTIONAL_SEQUENCE_LSTM") == "AddUnidirectionalSequenceLSTM"
    assert resolver_method("CONV_2D") == "AddConv2D"
    assert resolver_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert resolver_method("NOT_AN_OP") is None


def test_parser_reads_a_resolver_method():
    text = """
  TfLiteStatus AddPadV2(const TFLMRegistration& registration = Register_PADV2()) {
    return AddBuiltin(BuiltinOperator_PADV2, registration, ParsePadV2);
  }"""
    assert parse_resolver_header(text) == {"PADV2": "AddPadV2"}


@pytest.mark.skipif(
    not HEADER.is_file(),
    reason=f"TFLM's header is not at {HEADER} (set EDGEDIGITS_TFLM to a TFLM build)",
)
def test_table_is_the_tflm_header():
    """Every builtin TFLM's MicroMutableOpResolver registers, with its method, and nothing else."""
    assert parse_resolver_header(HEADER.read_text()) == RESOLVER_METHODS
    assert len(RESOLVER_METHODS) >= 100
