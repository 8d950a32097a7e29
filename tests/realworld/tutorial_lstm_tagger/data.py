"""Tagged toy sentences for the "Sequence Models and Long Short-Term Memory Networks" tutorial tagger.

The tutorial trains on two hand-written sentences; here a small grammar generates 300 sentences of the form
DET NN V (DET NN) with a few words ("can", "fish", "duck", "book", "watch") that are a noun or a verb
depending on where they stand. Each batch is one sentence: (word ids (T,), tag ids (T,)), made with
prepare_sequence as in the tutorial.
"""

import torch

DETS = ["the", "a", "every", "that"]
NOUNS = ["dog", "cat", "apple", "man", "woman", "child", "book", "fish", "duck", "watch", "teacher", "bird"]
VERBS = ["ate", "read", "saw", "likes", "can", "fish", "duck", "book", "watch", "carries", "wants", "finds"]
ADVS = ["quickly", "today", "again", "slowly"]
tag_to_ix = {"DET": 0, "NN": 1, "V": 2, "ADV": 3}


def make_training_data(n, seed):
    g = torch.Generator().manual_seed(seed)

    def pick(words):
        return words[int(torch.randint(0, len(words), (1,), generator=g))]

    training_data = []
    for _ in range(n):
        words, tags = [pick(DETS), pick(NOUNS), pick(VERBS)], ["DET", "NN", "V"]
        if float(torch.rand(1, generator=g)) < 0.7:
            words += [pick(DETS), pick(NOUNS)]
            tags += ["DET", "NN"]
        if float(torch.rand(1, generator=g)) < 0.4:
            words.append(pick(ADVS))
            tags.append("ADV")
        training_data.append((words, tags))
    return training_data


def build_word_to_ix():
    word_to_ix = {}
    for word in DETS + NOUNS + VERBS + ADVS:
        if word not in word_to_ix:  # word has not been assigned an index yet
            word_to_ix[word] = len(word_to_ix)  # Assign each word with a unique index
    return word_to_ix


def prepare_sequence(seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    return torch.tensor(idxs, dtype=torch.long)


def training_batches(n_sentences=300, seed=0):
    word_to_ix = build_word_to_ix()
    return [(prepare_sequence(sentence, word_to_ix), prepare_sequence(tags, tag_to_ix))
            for sentence, tags in make_training_data(n_sentences, seed)]
