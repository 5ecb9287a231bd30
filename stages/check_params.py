"""Stage check_params: validate the whole params.yaml before any other stage starts.

DVC deletes a stage's outputs before it runs the stage; every stage depends on this one, so a bad
value stops the pipeline here and the outputs of the previous run stay where they are. The marker
it writes never changes, so a valid edit does not by itself rerun anything downstream.
"""

from ganyard.cli import StageError, run_stage
from ganyard.io import write_text
from ganyard.params import missing_files


def main(params) -> None:
    missing = missing_files(params)
    if missing:
        raise StageError("params name files that do not exist:\n  " + "\n  ".join(missing))
    write_text("params.yaml passed validation\n", "data/params.ok")


if __name__ == "__main__":
    run_stage("check_params", main)
