import json

import numpy as np
import pytest
import tensorflow as tf

from generators.sequences import (
    BOS,
    EOS,
    FAMILIES,
    IGNORE_INDEX,
    NUM_SPECIAL_TOKENS,
    PAD,
    PATTERN_TYPES,
    SEP,
    SequenceGenerator,
    family_names,
    leakage,
    make_generator,
    register,
)

# Small but complete settings per family: every feature on, fast to make.
SMALL = {
    "random": {},
    "pattern": {"pattern_length": 4},
    "hierarchical": {"hierarchy_levels": 3, "num_themes": 4, "num_phrases": 4, "phrase_length": 3},
    "conditional": {"pattern_length": 4, "pattern_probability": 0.7},
    "template": {"templates": [[BOS, "RANDOM:3", SEP, "PATTERN", EOS], [7, "PATTERN:reversal", "RANDOM"]],
                 "pattern_length": 4},
    "mqar": {"num_pairs": 3},
    "induction": {},
    "selective_copy": {"num_tokens_to_copy": 4},
    "planted": {"num_letters": 5, "block_length": 4},
}
FAMILY_NAMES = sorted(SMALL)


def _generator(family, **options):
    values = {"vocab_size": 64, "seq_length": 24, "num_samples": 40, **SMALL[family], **options}
    return make_generator(family, **values)


def _numpy(batch):
    return {key: value.numpy() for key, value in batch.items()}


def _generate(generator, split="train", start=0, count=None):
    return _numpy(generator.generate(split, start, count or generator.num_samples))


def test_family_names_are_the_registered_families():
    assert family_names() == FAMILY_NAMES
    assert all(FAMILIES[name].family == name for name in FAMILY_NAMES)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_sequences_are_bit_identical_whatever_the_batch_size_and_start(family):
    gen = _generator(family, length_variation=0.3, noise_probability=0.1)
    reference = _generate(gen, "valid")
    batches = [_numpy(b) for b in gen.batches("valid", 7)]
    for key, value in reference.items():
        np.testing.assert_array_equal(np.concatenate([b[key] for b in batches]), value, err_msg=key)
    middle = _generate(gen, "valid", start=13, count=5)
    for key, value in middle.items():
        np.testing.assert_array_equal(value, reference[key][13:18], err_msg=key)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_splits_and_seeds_give_other_sequences(family):
    gen = _generator(family)
    tokens = {split: _generate(gen, split)["tokens"] for split in ("train", "valid", "test")}
    other_seed = _generate(_generator(family, seed=1))["tokens"]
    for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        assert (tokens[a] != tokens[b]).any(axis=1).mean() > 0.9, (a, b)
    assert (tokens["train"] != other_seed).any(axis=1).mean() > 0.9
    np.testing.assert_array_equal(_generate(_generator(family))["tokens"], tokens["train"])


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_outputs_follow_the_contract(family):
    gen = _generator(family, length_variation=0.25, noise_probability=0.05)
    batch = _generate(gen)
    count, length = 40, 24
    dtypes = {"tokens": np.int32, "tokens_mask": np.bool_, "labels": np.int32, "pattern": np.int32,
              "predictable": np.bool_}
    for key, dtype in dtypes.items():
        assert batch[key].dtype == dtype and batch[key].shape == (count, length), key
    assert batch["condition"].dtype == np.int32 and batch["condition"].shape == (count,)
    tokens, mask, labels = batch["tokens"], batch["tokens_mask"], batch["labels"]
    lengths = mask.sum(axis=1)
    np.testing.assert_array_equal(mask, np.arange(length) < lengths[:, None])  # a prefix
    assert lengths.min() >= 1 and lengths.max() <= length
    assert ((tokens > PAD) & (tokens < gen.vocab_size))[mask].all()
    assert (tokens[~mask] == PAD).all() and (labels[~mask] == IGNORE_INDEX).all()
    assert (batch["pattern"][~mask] == -1).all() and not batch["predictable"][~mask].any()
    assert np.isin(batch["pattern"], [-1, 0, 1, 2, 3]).all()
    # Wherever a label is set, it is the next token, and that token is real.
    labelled = labels != IGNORE_INDEX
    assert labelled.any() and not labelled[:, -1].any()
    rows, steps = np.nonzero(labelled)
    assert mask[rows, steps + 1].all()
    np.testing.assert_array_equal(labels[rows, steps], tokens[rows, steps + 1])


def test_default_labels_are_all_next_real_tokens():
    batch = _generate(_generator("random", length_variation=0.5))
    tokens, mask, labels = batch["tokens"], batch["tokens_mask"], batch["labels"]
    has_next = np.concatenate([mask[:, 1:], np.zeros((40, 1), bool)], axis=1)
    np.testing.assert_array_equal(labels, np.where(has_next, np.roll(tokens, -1, axis=1), IGNORE_INDEX))


def test_length_variation_draws_lengths_uniformly_in_its_range():
    gen = _generator("random", seq_length=20, length_variation=0.5, num_samples=4000)
    lengths = _generate(gen)["tokens_mask"].sum(axis=1)
    counts = np.bincount(lengths, minlength=21)
    assert counts[:10].sum() == 0 and counts[10:].min() > 4000 / 11 * 0.8
    assert abs(lengths.mean() - 15) < 0.15
    assert _generator("random", seq_length=10, length_variation=0.3).min_length == 7  # not 8


def test_noise_replaces_the_measured_share_of_real_tokens():
    clean = _generate(_generator("random", num_samples=2000, length_variation=0.5, vocab_size=404))
    noisy = _generate(_generator("random", num_samples=2000, length_variation=0.5, vocab_size=404,
                                 noise_probability=0.25))
    np.testing.assert_array_equal(noisy["tokens_mask"], clean["tokens_mask"])
    mask = clean["tokens_mask"]
    changed = (noisy["tokens"] != clean["tokens"])[mask].mean()
    assert abs(changed - 0.25 * (1 - 1 / 400)) < 0.01
    assert (noisy["tokens"][mask] >= NUM_SPECIAL_TOKENS).all()


def test_noise_keeps_pattern_ids_and_clears_predictable_where_it_replaces():
    options = dict(num_samples=500, pattern_probability=1.0, vocab_size=1004)
    clean = _generate(_generator("pattern", **options))
    noisy = _generate(_generator("pattern", noise_probability=0.3, **options))
    np.testing.assert_array_equal(noisy["pattern"], clean["pattern"])
    changed = noisy["tokens"] != clean["tokens"]
    assert changed.mean() > 0.25
    assert not noisy["predictable"][changed].any()
    assert not (noisy["predictable"] & ~clean["predictable"]).any()
    # Default labels follow the noisy tokens.
    np.testing.assert_array_equal(noisy["labels"][:, :-1], noisy["tokens"][:, 1:])


# The positions of a recall task's keys, values, triggers, content and answers.
TASK_POSITIONS = {
    "mqar": lambda b: (np.arange(24) < 6) | (b["labels"] != IGNORE_INDEX) | b["predictable"],
    "induction": lambda b: (b["tokens"] == SEP) | np.roll(b["tokens"] == SEP, 1, axis=1) | b["predictable"],
    "selective_copy": lambda b: b["tokens_mask"] & (b["tokens"] != NUM_SPECIAL_TOKENS),
}


@pytest.mark.parametrize("family", sorted(TASK_POSITIONS))
def test_noise_never_touches_recall_keys_values_or_answers(family):
    clean = _generate(_generator(family, length_variation=0.2))
    noisy = _generate(_generator(family, length_variation=0.2, noise_probability=1.0))
    np.testing.assert_array_equal(noisy["labels"], clean["labels"])
    np.testing.assert_array_equal(noisy["predictable"], clean["predictable"])
    task = TASK_POSITIONS[family](clean)
    np.testing.assert_array_equal(noisy["tokens"][task], clean["tokens"][task])
    # The rest of the real tokens is replaced (by chance by the same token, 1 time in 60).
    rest = clean["tokens_mask"] & ~task
    assert rest.mean() > 0.2 and (noisy["tokens"] != clean["tokens"])[rest].mean() > 0.9


@pytest.mark.parametrize(("family", "prompt"), [("conditional", 1), ("planted", 2)])
def test_noise_never_touches_prompts(family, prompt):
    clean = _generate(_generator(family))
    noisy = _generate(_generator(family, noise_probability=1.0))
    np.testing.assert_array_equal(noisy["tokens"][:, :prompt], clean["tokens"][:, :prompt])
    assert (noisy["tokens"] != clean["tokens"])[:, prompt:].mean() > 0.9


@pytest.mark.parametrize("exponent", [0.8, 1.3, 2.0])
def test_zipf_rank_frequency_slope_is_minus_the_exponent(exponent):
    gen = _generator("random", vocab_size=1004, seq_length=200, num_samples=1000,
                     vocab_distribution="zipf", zipf_exponent=exponent)
    tokens = _generate(gen)["tokens"]
    assert tokens.min() >= NUM_SPECIAL_TOKENS and tokens.max() < 1004
    counts = np.bincount(tokens.ravel() - NUM_SPECIAL_TOKENS, minlength=1000)
    ranks = np.arange(1, 31)
    slope = np.polyfit(np.log(ranks), np.log(counts[:30]), 1)[0]
    assert abs(slope + exponent) < 0.1
    expected = ranks[0] ** -exponent / np.sum(np.arange(1, 1001) ** -exponent)
    assert abs(counts[0] / counts.sum() - expected) < 0.01


def test_uniform_tokens_cover_the_sampled_range_evenly():
    counts = np.bincount(_generate(_generator("random", vocab_size=24, num_samples=2000))["tokens"].ravel(),
                         minlength=24)
    assert counts[:NUM_SPECIAL_TOKENS].sum() == 0
    assert counts[NUM_SPECIAL_TOKENS:].min() > 0.9 * counts[NUM_SPECIAL_TOKENS:].max()


@pytest.mark.parametrize("probability", [0.3, 0.75])
@pytest.mark.parametrize("length_variation", [0.0, 0.5])
def test_pattern_share_of_real_positions_is_pattern_probability(probability, length_variation):
    gen = _generator("pattern", seq_length=33, pattern_length=5, num_samples=2000,
                     pattern_probability=probability, length_variation=length_variation)
    batch = _generate(gen)
    mask = batch["tokens_mask"]
    assert abs((batch["pattern"] >= 0)[mask].mean() - probability) < 0.02
    types = np.bincount(batch["pattern"][batch["pattern"] >= 0], minlength=4) / (batch["pattern"] >= 0).sum()
    np.testing.assert_allclose(types, 0.25, atol=0.02)


@pytest.mark.parametrize("pattern_length", [5, 6])
@pytest.mark.parametrize("kind", PATTERN_TYPES)
def test_pattern_spans_follow_their_type(kind, pattern_length):
    m, size = pattern_length, 60
    gen = _generator("pattern", seq_length=4 * m, pattern_length=m, motif_length=2, vocab_size=size + 4,
                     pattern_probability=1.0, pattern_types=[kind], num_samples=200)
    batch = _generate(gen)
    spans = batch["tokens"].reshape(200, 4, m) - NUM_SPECIAL_TOKENS
    o = np.arange(m)
    source = {"repetition": o % 2, "alternation": o % 2, "progression": 0 * o,
              "reversal": np.minimum(o, m - 1 - o)}[kind]
    step = o if kind == "progression" else 0 * o
    np.testing.assert_array_equal(spans, (spans[:, :, source] + step) % size)
    first = {"repetition": 2, "alternation": 2, "progression": 1, "reversal": (m + 1) // 2}[kind]
    predictable = batch["predictable"].reshape(200, 4, m)
    np.testing.assert_array_equal(predictable, np.broadcast_to(o >= first, spans.shape))
    assert (batch["pattern"] == PATTERN_TYPES.index(kind)).all()
    # The span's first tokens (the motif) are random: all values occur.
    assert len(np.unique(spans[:, :, 0])) == size


def test_progressions_wrap_round_a_range_shorter_than_the_span():
    gen = _generator("pattern", vocab_size=NUM_SPECIAL_TOKENS + 3, seq_length=16, pattern_length=8,
                     pattern_probability=1.0, pattern_types=["progression"])
    spans = _generate(gen)["tokens"].reshape(-1, 8) - NUM_SPECIAL_TOKENS
    np.testing.assert_array_equal(spans, (spans[:, :1] + np.arange(8)) % 3)


@pytest.mark.parametrize("coherence", [1.0, 0.5, 0.0])
def test_hierarchical_theme_share_follows_global_coherence(coherence):
    gen = _generator("hierarchical", hierarchy_levels=2, num_themes=4, num_samples=1000, seq_length=36,
                     global_coherence=coherence)
    batch = _generate(gen)
    size = (gen.vocab_size - NUM_SPECIAL_TOKENS) // 4
    themes = (batch["tokens"] - NUM_SPECIAL_TOKENS) // size
    share = (themes == batch["condition"][:, None]).mean()
    assert abs(share - (coherence + (1 - coherence) / 4)) < 0.02
    assert np.bincount(batch["condition"], minlength=4).min() > 200


@pytest.mark.parametrize("structure", [0.0, 0.7, 1.0])
def test_hierarchical_phrases_follow_templates_with_structure_probability(structure):
    gen = _generator("hierarchical", hierarchy_levels=2, num_themes=4, num_phrases=4, phrase_length=3,
                     vocab_size=404, num_samples=600, seq_length=30, structure_probability=structure)
    batch = _generate(gen)
    phrases = batch["tokens"].reshape(-1, 3)
    themes = (phrases[:, 0] - NUM_SPECIAL_TOKENS) // 100
    matches = (gen.phrases[themes] == phrases[:, None, :]).all(axis=2).any(axis=1)
    assert abs(matches.mean() - structure) < 0.02
    predictable = batch["predictable"].reshape(-1, 3)
    np.testing.assert_array_equal(predictable[:, 0], False)
    if structure == 1.0:
        assert predictable[:, 1:].all()


def test_deeper_hierarchy_levels_repeat_phrases_of_phrases():
    options = dict(num_themes=2, num_phrases=3, phrase_length=2, structure_probability=1.0,
                   global_coherence=1.0, seq_length=32, num_samples=300, vocab_size=404)
    units = {}
    for levels in (2, 4):
        tokens = _generate(_generator("hierarchical", hierarchy_levels=levels, **options))["tokens"]
        units[levels] = {row.tobytes() for row in tokens.reshape(-1, 8)}  # a level-4 unit is 8 tokens
    assert len(units[4]) <= 2 * 3  # one per theme and template of the top level
    assert len(units[2]) > 50


def test_condition_decides_pattern_type_and_vocabulary_with_condition_strength():
    gen = _generator("conditional", pattern_probability=1.0, seq_length=9, vocab_size=84,
                     num_samples=8000, condition_strength=0.8)
    batch = _generate(gen)
    condition = batch["condition"]
    np.testing.assert_allclose(np.bincount(condition, minlength=4) / 8000, 0.25, atol=0.02)
    np.testing.assert_array_equal(batch["tokens"][:, 0], NUM_SPECIAL_TOKENS + condition)
    types = batch["pattern"][:, 1]
    follows = types == condition % 4
    assert abs(follows.mean() - 0.8) < 0.02
    # The other types are drawn evenly among themselves.
    others = np.bincount((types - condition)[~follows] % 4, minlength=4)
    assert others[0] == 0 and others[1:].min() > 0.28 * (~follows).sum()
    block = (batch["tokens"][:, 1:] - NUM_SPECIAL_TOKENS - 4) // 19  # (80 - 4 controls) / 4 blocks
    assert (block == block[:, :1]).all()
    assert abs((block[:, 0] == condition).mean() - 0.8) < 0.02
    assert ((block[:, 0] == condition) == follows).all()  # one coin decides both


def test_custom_condition_tokens_stay_out_of_the_bodies():
    controls = [10, 30, 31]
    gen = _generator("conditional", num_conditions=3, condition_tokens=controls, num_samples=500,
                     condition_strength=1.0, pattern_probability=1.0, vocab_size=40)
    batch = _generate(gen)
    np.testing.assert_array_equal(batch["tokens"][:, 0], np.array(controls)[batch["condition"]])
    body = batch["tokens"][:, 1:]
    assert not np.isin(body, controls).any() and (body >= NUM_SPECIAL_TOKENS).all()
    assert (batch["pattern"][:, 1] == batch["condition"]).all()
    assert json.loads(json.dumps(gen.to_dict()))["condition_tokens"] == controls


def test_templates_are_laid_out_cut_padded_and_picked_uniformly():
    templates = [[BOS, "RANDOM:3", SEP, "PATTERN:reversal", EOS], [7, "PATTERN", 9], [5] + ["RANDOM"] * 30]
    gen = _generator("template", templates=templates, num_samples=3000, pattern_types=["progression"])
    batch = _generate(gen)
    condition, tokens, mask = batch["condition"], batch["tokens"], batch["tokens_mask"]
    np.testing.assert_allclose(np.bincount(condition, minlength=3) / 3000, 1 / 3, atol=0.03)
    np.testing.assert_array_equal(mask.sum(axis=1), np.array([10, 6, 24])[condition])
    first = tokens[condition == 0]
    np.testing.assert_array_equal(first[:, [0, 4, 9]], np.broadcast_to([BOS, SEP, EOS], (len(first), 3)))
    np.testing.assert_array_equal(first[:, 5:9], first[:, [5, 6, 6, 5]])
    np.testing.assert_array_equal(batch["pattern"][condition == 0][:, 5:9], 3)
    second = tokens[condition == 1] - NUM_SPECIAL_TOKENS
    progression = (second[:, 1:5] - second[:, 1:2]) % 60
    np.testing.assert_array_equal(progression, np.tile(np.arange(4), (len(second), 1)))
    np.testing.assert_array_equal(second[:, [0, 5]] + NUM_SPECIAL_TOKENS, np.tile([7, 9], (len(second), 1)))
    assert (tokens[condition == 2][:, 0] == 5).all()


def test_mqar_labels_are_the_values_of_the_queried_keys():
    pairs = 4
    gen = _generator("mqar", num_pairs=pairs, seq_length=40, vocab_size=104, num_samples=300,
                     length_variation=0.3)
    batch = _generate(gen)
    half = (gen.vocab_size - NUM_SPECIAL_TOKENS) // 2
    for tokens, labels, predictable, length in zip(
            batch["tokens"], batch["labels"], batch["predictable"], batch["tokens_mask"].sum(axis=1)):
        keys, values = tokens[0:2 * pairs:2], tokens[1:2 * pairs:2]
        assert len(set(keys)) == pairs
        assert ((keys >= NUM_SPECIAL_TOKENS) & (keys < NUM_SPECIAL_TOKENS + half)).all()
        assert ((values >= NUM_SPECIAL_TOKENS + half) & (values < NUM_SPECIAL_TOKENS + 2 * half)).all()
        asked = np.nonzero(labels != IGNORE_INDEX)[0]
        assert len(asked) == pairs and asked.min() >= 2 * pairs and asked.max() < length - 1
        assert ((asked - 2 * pairs) % 2 == 0).all()
        assert sorted(tokens[asked]) == sorted(keys)  # each key asked once
        answer = dict(zip(keys, values))
        np.testing.assert_array_equal(labels[asked], [answer[k] for k in tokens[asked]])
        np.testing.assert_array_equal(np.nonzero(predictable)[0], asked + 1)


def test_mqar_queries_cluster_near_the_context_for_small_power_a():
    def mean_query_slot(power_a):
        gen = _generator("mqar", num_pairs=4, seq_length=72, vocab_size=104, num_samples=400, power_a=power_a)
        labels = _generate(gen)["labels"]
        return (np.nonzero(labels != IGNORE_INDEX)[1] - 8).mean() / 2

    clustered, uniform = mean_query_slot(0.01), mean_query_slot(1.0)
    assert clustered < 10 and 12 < uniform < 20  # 32 slots; uniform spread: about 15.5


def test_induction_label_at_the_last_trigger_is_the_token_after_the_first():
    gen = _generator("induction", num_samples=2000, length_variation=0.4, seq_length=20)
    batch = _generate(gen)
    firsts = []
    for tokens, labels, predictable, length in zip(
            batch["tokens"], batch["labels"], batch["predictable"], batch["tokens_mask"].sum(axis=1)):
        triggers = np.nonzero(tokens == SEP)[0]
        assert len(triggers) == 2 and triggers[1] == length - 2 and triggers[0] <= length - 4
        np.testing.assert_array_equal(np.nonzero(labels != IGNORE_INDEX)[0], [length - 2])
        assert labels[length - 2] == tokens[triggers[0] + 1] == tokens[length - 1]
        np.testing.assert_array_equal(np.nonzero(predictable)[0], [length - 1])
        firsts.append(triggers[0])
    assert min(firsts) == 0 and max(firsts) == 16  # the whole range [0, n - 4]


def test_selective_copy_copies_the_content_tokens_in_order():
    copies = 5
    gen = _generator("selective_copy", num_tokens_to_copy=copies, seq_length=30, num_samples=300,
                     length_variation=0.3)
    batch = _generate(gen)
    places = []
    for tokens, labels, predictable, length in zip(
            batch["tokens"], batch["labels"], batch["predictable"], batch["tokens_mask"].sum(axis=1)):
        sep = length - copies - 1
        region = tokens[:sep]
        content = region[region != NUM_SPECIAL_TOKENS]
        assert len(content) == copies and (content > NUM_SPECIAL_TOKENS).all()
        assert tokens[sep] == SEP and np.count_nonzero(tokens == SEP) == 1
        np.testing.assert_array_equal(tokens[sep + 1:length], content)
        np.testing.assert_array_equal(labels[sep:length - 1], content)
        assert (labels[:sep] == IGNORE_INDEX).all() and labels[length - 1] == IGNORE_INDEX
        np.testing.assert_array_equal(np.nonzero(predictable)[0], np.arange(sep + 1, length))
        places.extend(np.nonzero(region != NUM_SPECIAL_TOKENS)[0] / (sep - 1))
    assert abs(np.mean(places) - 0.5) < 0.03  # content spread over the whole region


def test_planted_block_holds_the_prompt_letter_at_a_uniform_position():
    block_length, letters = 4, 5
    gen = _generator("planted", num_letters=letters, block_length=block_length, seq_length=12,
                     num_samples=4000)
    batch = _generate(gen)
    tokens, pattern, letter = batch["tokens"], batch["pattern"], batch["condition"]
    np.testing.assert_array_equal(tokens[:, 0], NUM_SPECIAL_TOKENS + 2 + letter)
    assert (tokens[:, 1] == SEP).all()
    assert set(np.unique(letter)) == set(range(letters))
    in_block = pattern == 0
    np.testing.assert_array_equal(in_block.sum(axis=1), block_length)
    starts = in_block.argmax(axis=1) - 2
    counts = np.bincount(starts, minlength=7)  # line of 10: starts 0 to 6
    assert len(counts) == 7 and counts.min() > 4000 / 7 * 0.85
    np.testing.assert_array_equal(in_block, (np.arange(12) >= starts[:, None] + 2)
                                  & (np.arange(12) < starts[:, None] + 2 + block_length))
    line = tokens[:, 2:]
    noise = line == NUM_SPECIAL_TOKENS + 1
    assert abs(noise.mean() - 1 / 16) < 0.005
    letters_in_block = np.where(noise, tokens[:, :1], line)[in_block[:, 2:]]
    np.testing.assert_array_equal(letters_in_block.reshape(-1, block_length),
                                  np.repeat(tokens[:, :1], block_length, axis=1))
    assert (line[~in_block[:, 2:] & ~noise] == NUM_SPECIAL_TOKENS).all()


def test_leakage_is_high_for_tiny_spaces_and_zero_by_default():
    assert leakage(make_generator("random", vocab_size=6, seq_length=3, num_samples=100)) > 0.95
    assert leakage(make_generator("random", num_samples=200)) == 0.0
    assert leakage(make_generator("random", num_samples=50), train="test", test="test") == 1.0
    endless = make_generator("random", vocab_size=8, seq_length=2, num_samples=None)
    assert leakage(endless, num_samples=10) > 0.4


def test_dataset_yields_model_inputs_and_next_token_targets():
    gen = _generator("mqar", num_samples=20)
    data = gen.dataset("train", 8)
    inputs, targets = data.element_spec
    assert sorted(inputs) == ["tokens", "tokens_mask"] and list(targets) == ["next_token"]
    assert inputs["tokens"].dtype == tf.int32 and inputs["tokens_mask"].dtype == tf.bool
    assert inputs["tokens"].shape.as_list() == [None, 24] and targets["next_token"].dtype == tf.int32
    batches = list(data)
    assert [int(x["tokens"].shape[0]) for x, _ in batches] == [8, 8, 4]
    reference = _generate(gen)
    np.testing.assert_array_equal(np.concatenate([y["next_token"].numpy() for _, y in batches]),
                                  reference["labels"])
    fixed = gen.dataset("train", 8, drop_remainder=True, repeat=True)
    assert fixed.element_spec[0]["tokens"].shape.as_list() == [8, 24]
    assert len(list(fixed.take(5))) == 5


def test_batches_have_known_cardinality_and_stream_forever_without_num_samples():
    gen = _generator("random", num_samples=20)
    assert int(gen.batches("train", 6).cardinality()) == 4
    assert int(gen.batches("train", 6, drop_remainder=True).cardinality()) == 3
    assert int(gen.batches("train", 6, start=4, stop=10).cardinality()) == 1
    endless = _generator("random", num_samples=None)
    assert endless.batches("train", 6).cardinality() == tf.data.INFINITE_CARDINALITY
    batches = [b["tokens"].numpy() for b in endless.batches("train", 6).take(3)]
    np.testing.assert_array_equal(np.concatenate(batches), _generate(endless, count=18)["tokens"])


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_to_dict_is_json_and_remakes_the_generator(family):
    gen = _generator(family, seed=5, length_variation=0.2)
    config = json.loads(json.dumps(gen.to_dict()))
    assert config["family"] == family
    again = make_generator(**config)
    np.testing.assert_array_equal(_generate(again)["tokens"], _generate(gen)["tokens"])


@pytest.fixture
def custom_family():
    @register("first_token")
    class FirstToken(SequenceGenerator):
        """Repeats a random first token."""

        def _sequences(self, draw, lengths):
            return {"tokens": draw.integers(1, NUM_SPECIAL_TOKENS, self.vocab_size)
                    + tf.zeros([1, self.seq_length], tf.int32)}

    yield FirstToken
    del FAMILIES["first_token"]


def test_a_registered_custom_family_gets_everything_else_from_the_base(custom_family):
    gen = make_generator("first_token", vocab_size=10, seq_length=5, num_samples=6, length_variation=0.4)
    batch = _generate(gen)
    tokens, mask = batch["tokens"], batch["tokens_mask"]
    assert (tokens[mask] == np.repeat(tokens[:, :1], 5, axis=1)[mask]).all()
    assert (batch["condition"] == -1).all() and (batch["pattern"] == -1).all()
    assert gen.to_dict()["family"] == "first_token"
    with pytest.raises(ValueError, match="named 'first_token' is registered already"):
        register("first_token")(type("Other", (SequenceGenerator,), {}))


BAD = [
    ("random", {"vocab_size": 4}, "`vocab_size` must be an integer in [5, 16777216]; received vocab_size=4"),
    ("random", {"vocab_size": 64.0}, "received vocab_size=64.0"),
    ("random", {"seq_length": 0}, "`seq_length` must be an integer in [1, 1048576]; received seq_length=0"),
    ("random", {"num_samples": 0}, "received num_samples=0"),
    ("random", {"seed": -1}, "`seed` must be an integer in [0, 18446744073709551615]; received seed=-1"),
    ("random", {"length_variation": 1.0},
     "`length_variation` must be a number in [0, 1); received length_variation=1.0"),
    ("random", {"length_variation": -0.1}, "received length_variation=-0.1"),
    ("random", {"noise_probability": 1.5},
     "`noise_probability` must be a number in [0, 1]; received noise_probability=1.5"),
    ("random", {"noise_probability": float("nan")}, "received noise_probability=nan"),
    ("random", {"vocab_distribution": "zipff"}, "`vocab_distribution` must be one of 'uniform', 'zipf'; "
                                                "received vocab_distribution='zipff' (did you mean 'zipf'?)"),
    ("random", {"zipf_exponent": 0}, "`zipf_exponent` must be a finite number > 0; received zipf_exponent=0"),
    ("random", {"zipf_exponen": 1}, "sequence family 'random' takes no argument 'zipf_exponen' "
                                    "(did you mean 'zipf_exponent'?)"),
    ("pattern", {"pattern_types": ["repetition", "mirror"]}, "received pattern_types[1]='mirror'"),
    ("pattern", {"pattern_types": []}, "received pattern_types=[]"),
    ("pattern", {"pattern_types": ["reversal", "reversal"]}, "a list of different names"),
    ("pattern", {"pattern_probability": 1.5}, "`pattern_probability` must be a number in [0, 1]; received"),
    ("pattern", {"pattern_length": 1}, "`pattern_length` must be an integer in [2, seq_length=24]; "
                                       "received pattern_length=1"),
    ("pattern", {"pattern_length": 25}, "received pattern_length=25"),
    ("pattern", {"motif_length": 4}, "`motif_length` must be an integer in [1, pattern_length - 1=3]; "
                                     "received motif_length=4"),
    ("hierarchical", {"vocab_size": 5}, "`vocab_size` must be an integer in [6, 16777216]; received"),
    ("hierarchical", {"hierarchy_levels": 1}, "`hierarchy_levels` must be an integer in [2, 8]; received"),
    ("hierarchical", {"num_themes": 31}, "`num_themes` must be an integer in [1, 30] (2 tokens per theme"),
    ("hierarchical", {"phrase_length": 1}, "received phrase_length=1"),
    ("hierarchical", {"structure_probability": -0.1}, "received structure_probability=-0.1"),
    ("hierarchical", {"global_coherence": 2}, "`global_coherence` must be a number in [0, 1]; received"),
    ("conditional", {"vocab_size": 9}, "`vocab_size` must be an integer in [10, 16777216] for the"),
    ("conditional", {"condition_strength": 1.1}, "received condition_strength=1.1"),
    ("conditional", {"num_conditions": 1}, "`num_conditions` must be an integer in [2, 20]"),
    ("conditional", {"num_conditions": 21}, "received num_conditions=21"),
    ("conditional", {"condition_tokens": [4, 5]},
     "`condition_tokens` must be None or a list of num_conditions=4 different token ids in "
     "[4, vocab_size=64)"),
    ("conditional", {"condition_tokens": [2, 5, 6, 7]}, "received condition_tokens=[2, 5, 6, 7]"),
    ("conditional", {"condition_tokens": [6, 9, 12, 14], "vocab_size": 16},
     "`condition_tokens` must be tokens leaving 4 runs of 2 consecutive sampled tokens without control "
     "tokens; received condition_tokens=[6, 9, 12, 14]"),
    ("conditional", {"pattern_types": ["repetition"]}, "at least 2 different names"),
    ("template", {"templates": [[1, "RANDOM:x"]]},
     "`templates[0]` must hold only items an int token in [1, vocab_size), 'RANDOM'"),
    ("template", {"templates": [[1], [2, "PATTERN:mirror", 3]]},
     "received the item 'PATTERN:mirror' in templates[1]=[2, 'PATTERN:mirror', 3]"),
    ("template", {"templates": [[64]]}, "received the item 64 in templates[0]=[64]"),
    ("template", {"templates": [[True]]}, "received the item True"),
    ("template", {"templates": [[0, 5]]}, "received the item 0"),
    ("template", {"templates": []}, "`templates` must be a non-empty list of templates"),
    ("template", {"templates": [[]]}, "`templates[0]` must be a non-empty list of items"),
    ("mqar", {"num_pairs": 8, "vocab_size": 19, "seq_length": 32},
     "`vocab_size` must be an integer in [20, 16777216] for num_pairs=8 "
     "(NUM_SPECIAL_TOKENS + 2 * num_pairs); received vocab_size=19"),
    ("mqar", {"num_pairs": 7}, "`num_pairs` must be small enough that 4 * num_pairs tokens fit the shortest "
     "sequence, 24 tokens (seq_length=24, length_variation=0.0); received num_pairs=7"),
    ("mqar", {"num_pairs": 5, "length_variation": 0.3}, "17 tokens (seq_length=24, length_variation=0.3)"),
    ("mqar", {"power_a": 0}, "`power_a` must be a number in (0, 1]; received power_a=0"),
    ("mqar", {"power_a": 1.5}, "received power_a=1.5"),
    ("induction", {"seq_length": 3}, "`seq_length` must be small enough that 4 tokens fit"),
    ("selective_copy", {"num_tokens_to_copy": 12}, "received num_tokens_to_copy=12"),
    ("selective_copy", {"vocab_size": 5},
     "`vocab_size` must be an integer in [6, 16777216]; received vocab_size=5"),
    ("planted", {"vocab_size": 6}, "`vocab_size` must be an integer in [7, 16777216] for the planted family"),
    ("planted", {"num_letters": 59}, "`num_letters` must be an integer in [1, 58] (vocab_size=64)"),
    ("planted", {"block_length": 23}, "received block_length=23"),
    ("planted", {"noise_rate": -1}, "`noise_rate` must be a number in [0, 1]; received noise_rate=-1"),
]


@pytest.mark.parametrize(("family", "options", "message"), BAD,
                         ids=[f"{family}-{sorted(options)[0]}" for family, options, _ in BAD])
def test_a_bad_option_raises_a_value_error_naming_it(family, options, message):
    with pytest.raises(ValueError) as error:
        _generator(family, **options)
    assert message in str(error.value)


def test_bad_family_split_and_counts_raise_value_errors_naming_them():
    with pytest.raises(ValueError, match=r"`family` must be one of .*; received family='randm' \(did"):
        make_generator("randm")
    gen = _generator("random")
    with pytest.raises(ValueError, match=r"received split='training'"):
        gen.generate("training", 0, 4)
    with pytest.raises(ValueError, match=r"`count` must be an integer in \[1, 4611686018427387904\]; rec"):
        gen.generate("train", 0, 0)
    with pytest.raises(ValueError, match=r"received start=-1"):
        gen.generate("train", -1, 4)
    with pytest.raises(ValueError, match=r"`batch_size` must be at most 11184810 for seq_length=24"):
        gen.batches("train", 2**24, stop=2**25)
    with pytest.raises(ValueError, match=r"received stop=3"):
        gen.batches("train", 4, start=5, stop=3)
    with pytest.raises(ValueError, match=r"received drop_remainder=1"):
        gen.dataset("train", 4, drop_remainder=1)
    with pytest.raises(ValueError, match=r"`num_samples` must be an integer >= 1 when the generator's"):
        leakage(_generator("random", num_samples=None))
    with pytest.raises(ValueError, match=r"received test='tset'"):
        leakage(gen, test="tset")
