# `make demo`: set up and run the demo end to end.  `make test`: set up and run the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ASR    := $(BIN)/asr
DEMO   := exp/demo

.PHONY: setup sysdeps mbrola demo demo-data demo-lm test test-matrix lint bench-deps bench-decode bench-train bench-infer bench-augment bench-prepare bench-serve bench-transcribe bench-frontend bench-lm-tune exp-real exp-finetune exp-slots exp-times clean

setup: $(VENV)/.installed sysdeps

# ttskit's multi-speaker Mandarin synthesis reads part of the demo corpus's training sentences
# (asr prepare demo --tts-share): its wheel pins torch<=1.7.1 and numba 0.48, so it goes in with
# --no-deps beside the modules it imports at run time (asr/corpora/ttskit_voice.py).
TTSKIT := ttskit==0.3.8 aukit==1.4.6 phkit==0.2.11 pydub==0.25.1 dotmap==1.3.30 hanziconv==0.3.2 \
          pypinyin==0.55.0 jieba==0.42.1 Unidecode==1.4.0 webrtcvad-wheels==2.0.14.post1

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(TTSKIT)
	$(BIN)/pip install --quiet --disable-pip-version-check inflect==7.6.0
	touch $@

# espeak-ng synthesizes the demo corpus and the test corpora; gcin-voice adds human syllable
# recordings to the demo training set; npm fetches the yanyu package, the human voice of the demo's
# dev set; the web page's tests drive Debian's Chromium; a CJK font (WenQuanYi Micro Hei) draws
# Chinese in `asr align` plots and the page's screenshots. Installed with apt-get when run as root,
# only those missing: a machine whose npm came with another nodejs (NodeSource's bundles it, and
# conflicts with Debian's npm package) keeps it.
sysdeps:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	[ -d /usr/share/gcin-voice ] || missing="$$missing gcin-voice"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -d /usr/share/fonts/truetype/wqy ] || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  elif ! command -v espeak-ng >/dev/null; then \
	    echo "error: install espeak-ng (Debian/Ubuntu: sudo apt-get install espeak-ng gcin-voice; macOS: brew install espeak-ng)"; exit 1; \
	  fi; \
	fi

# Opt-in, non-free: MBROLA (contrib, AGPL-3) and its cn1 voice (non-free: two human singers'
# diphones, synthesis with MBROLA only, no sale) for `asr prepare demo --mbrola-share`. Fetched
# through a private apt list and unpacked into .mbrola: the machine's apt sources are not edited
# and nothing is installed system-wide.
MBROLA_APT := -o Dir::Etc::SourceList=$(CURDIR)/.mbrola/apt/sources.list -o Dir::Etc::SourceParts=/dev/null \
              -o Dir::State::Lists=$(CURDIR)/.mbrola/apt/lists -o Dir::Cache=$(CURDIR)/.mbrola/apt/cache -o APT::Sandbox::User=root
mbrola:
	@[ -f .mbrola/usr/share/mbrola/cn1/cn1 ] || { \
	  mkdir -p .mbrola/apt/lists/partial .mbrola/apt/cache/archives/partial && \
	  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm contrib non-free" \
	    > .mbrola/apt/sources.list && \
	  apt-get $(MBROLA_APT) update -qq && \
	  (cd .mbrola/apt && apt-get $(MBROLA_APT) download mbrola mbrola-cn1) && \
	  for deb in .mbrola/apt/*.deb; do dpkg-deb -x $$deb .mbrola || exit 1; done && \
	  echo "mbrola and cn1 unpacked into .mbrola"; } || { \
	  echo "error: make mbrola: fetching Debian's mbrola and mbrola-cn1 failed (needs apt-get, dpkg-deb and deb.debian.org)"; exit 1; }

demo-data: setup
	@[ -f data/demo/train/wav.scp ] || $(ASR) prepare demo data/demo

demo: demo-data
	@if [ -f $(DEMO)/last.pt ]; then $(ASR) train recipes/demo.yaml --resume; else $(ASR) train recipes/demo.yaml; fi
	$(ASR) evaluate --model $(DEMO)/best.pt --data data/demo/test --report $(DEMO)/test_report.json
	@if [ -d data/demo/test_unheard ]; then \
	  echo "held-out human voice (gcin-voice speaker 5, never in train or dev):"; \
	  $(ASR) evaluate --model $(DEMO)/best.pt --data data/demo/test_unheard --report $(DEMO)/test_unheard_report.json; \
	  echo "... with test-time VTLN (a filterbank warp chosen per speaker, no transcript needed):"; \
	  $(ASR) evaluate --model $(DEMO)/best.pt --data data/demo/test_unheard --vtln; \
	fi
	$(ASR) transcribe --model $(DEMO)/best.pt data/demo/samples/*.wav
	@# spoken slot filling: a character tagger (seconds), scored on reference text and from speech
	@[ -f data/demo/train/slots ] || $(ASR) slots label $$(ls -d data/demo/train data/demo/dev data/demo/test data/demo/test_unheard 2>/dev/null)
	$(ASR) slots train data/demo/train --dev data/demo/dev --recipe recipes/demo.yaml -o $(DEMO)/slots.pt
	@for split in test test_unheard; do [ ! -d data/demo/$$split ] || \
	  $(ASR) slots evaluate $(DEMO)/slots.pt data/demo/$$split --asr-model $(DEMO)/best.pt || exit 1; done
	$(ASR) transcribe --model $(DEMO)/best.pt --slots $(DEMO)/slots.pt data/demo/samples/*.wav

# Beam search + character LM on the demo test set, next to greedy.
demo-lm: demo-data
	$(ASR) lm train data/demo/train -o $(DEMO)/chars.arpa --order 4
	$(ASR) lm tune --model $(DEMO)/best.pt --data data/demo/dev --lm $(DEMO)/chars.arpa -o $(DEMO)/decode_lm.yaml
	$(ASR) evaluate --model $(DEMO)/best.pt --data data/demo/test --decoder greedy
	$(ASR) evaluate --model $(DEMO)/best.pt --data data/demo/test --decode $(DEMO)/decode_lm.yaml --report $(DEMO)/test_report_lm.json

# pyctcdecode pins numpy<2 but works with numpy 2, hence --no-deps (pygtrie is its one real need).
bench-deps: setup
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps pyctcdecode pygtrie
	$(BIN)/pip install --quiet --disable-pip-version-check flashlight-text kaldi-native-fbank

bench-decode: bench-deps
	$(BIN)/python -m bench.decode

bench-train: demo-data
	$(BIN)/python -m bench.train

bench-infer: setup
	$(BIN)/python -m bench.infer

bench-augment: demo-data
	$(BIN)/python -m bench.augment

# asr prepare manifest on 100k entries: entries/s and peak RSS (about a minute)
bench-prepare: setup
	$(BIN)/python -m bench.prepare

# asr serve under load on loopback, and the page's screenshot (docs/serve.png; a CJK font for it)
bench-serve: demo-data
	@[ -f $(DEMO)/best.pt ] || $(MAKE) demo
	$(BIN)/python -m bench.serve

# asr transcribe on the 200 demo test files end to end, greedy and beam + LM (after demo, demo-lm)
bench-transcribe: setup
	$(BIN)/python -m bench.transcribe

# MFCC frontends side by side: asr, torchaudio's Kaldi MFCC, kaldi-native-fbank, librosa (~1 min)
bench-frontend: bench-deps demo-data
	$(BIN)/python -m bench.frontend

# Peak memory of asr lm tune on a synthetic dev set of AISHELL-1 dev's size (about 3 min on 2 cores)
bench-lm-tune: setup
	$(BIN)/python -m bench.lm_tune

# Experiments (experiments/README.md): each reruns the question's current table.
# recipes/few_hours.yaml on real Czech speech (asr prepare fillets-cs: apt-get download, no install),
# 13 minutes of training, then test CER/WER and the unheard voices' CER (about 15 min on 2 cores)
exp-real: setup
	$(BIN)/python -m experiments.real_speech

# Fine-tuning the demo model on a new voice's few minutes (about 5 min on 2 cores)
exp-finetune: demo-data
	@[ -f $(DEMO)/best.pt ] || $(MAKE) demo
	$(BIN)/python -m experiments.finetune

# Slot taggers with each classic cell, one or both directions, from text and from the demo
# model's transcripts (about 10 min on 2 cores, after make demo)
exp-slots: demo-data
	@[ -f $(DEMO)/best.pt ] || $(MAKE) demo
	$(BIN)/python -m experiments.slots

# Per-character times against the corpus's true times (chars.ctm), spike and owned frames, on
# the demo test set and the held-out human voice (under a minute on 2 cores, after make demo)
exp-times: setup
	@[ -f $(DEMO)/best.pt ] || $(MAKE) demo
	$(BIN)/python -m experiments.char_times

test: setup lint
	$(BIN)/python -m pytest -q

# The suite under the CPU kernel settings that round as other machines do (torch's no-SIMD, AVX2
# and AVX-512 kernels, MKL capped at AVX2, MKL's portable paths, no SIMD on one thread), with the
# margins the learning tests measured: a table on stdout (about 30 min on 2 cores)
test-matrix: setup
	$(BIN)/python tests/matrix.py

# ruff: lint rules and formatting; mypy: types of asr/ (both configured in pyproject.toml)
lint: setup
	$(BIN)/ruff check asr tests bench experiments
	$(BIN)/ruff format --check asr tests bench experiments
	$(BIN)/mypy

clean:
	rm -rf $(VENV) exp .pytest_cache
