from asr.cli import app

app(prog_name="asr")
