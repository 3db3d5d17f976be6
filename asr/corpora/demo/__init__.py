"""The demo corpus: small, deterministic, synthesized Mandarin for a laptop-sized first run.

One module a job, imported from where it lives (this file imports nothing, so the CLI can read
DemoMix's defaults without loading the audio stack):

- grammar:  the sentences (digits, years, dates, clock times, amounts, travel, 好棒/好棒棒) and
            their slot labels
- mix:      DemoMix, the frozen voice shares
- speakers: voice names, the held-out speaker, the kinds of random speaker
- espeak:   espeak-ng's variants per split, random speaker variants, synthesis
- world:    WORLD re-synthesis of a recorded voice as another speaker
- voices:   the VoiceSource interface and the corpus's sources (espeak-ng, the human recordings
            of asr.corpora.syllables, ttskit, MBROLA)
- render:   Job and render(job): one utterance to a wav with level, padding and noise
- plan:     every utterance's text, voice, seed and path, without synthesizing
- generate: plan, render in parallel, write the Kaldi-style data dirs and slot labels

Speech comes from espeak-ng's `cmn-latn-pinyin` voice with many variants, speeds and pitches
(dev and test use voices training never hears) and, when Debian's gcin-voice is installed, from
human syllable recordings joined into utterances: speaker 3 in training, speaker 5 only in the
held-out test_unheard split. Half of dev is read by another human, npm's yanyu speaker, whom
training never hears. Optional training voices: ttskit's speakers and MBROLA's cn1 (opt-in).
"""
