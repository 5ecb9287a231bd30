"""Stage check_params: validate the whole params.yaml before any other stage starts.

DVC deletes a stage's outputs before it runs the stage; every stage depends on this one, so a bad
value stops the pipeline here and the outputs of the previous run stay where they are. The marker
it writes never changes, so a valid edit does not by itself rerun anything downstream.
"""

from ganyard import paths
from ganyard.data.folder import scan_folder
from ganyard.io import write_text
from ganyard.params import missing_files
from ganyard.stage import StageError, run_stage


def main(params) -> None:
    missing = missing_files(params)
    if missing:
        raise StageError("params name files that do not exist:\n  " + "\n  ".join(missing))
    if params.data.source == "folder":
        layout = scan_folder(params.data.path)  # the layout only; images are decoded by prepare
        if not layout.labelled and params.model.conditional:
            raise StageError(
                f"model.conditional = true needs labelled images, but data.path = {params.data.path!r} has no class "
                "sub-folders (a flat folder is unlabelled): put each class in its own sub-folder, or set model.conditional: false"
            )
        if layout.labelled and params.evaluator.unlabelled_task != "rotation":
            raise StageError(
                f"evaluator.unlabelled_task = {params.evaluator.unlabelled_task!r} is what the evaluator learns on unlabelled pictures, but "
                f"data.path = {params.data.path!r} has class sub-folders, so it learns their classes: set evaluator.unlabelled_task: rotation"
            )
    write_text("params.yaml passed validation\n", paths.PARAMS_OK)


if __name__ == "__main__":
    run_stage("check_params", main)
