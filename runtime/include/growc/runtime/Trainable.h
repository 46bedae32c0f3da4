//===- Trainable.h - which parameters a train graph updates -----*- C++ -*-===//
//
// The `--trainable=SPEC` grammar of growc and growc-run train, resolved once
// for both: growc's growc-freeze-parameters marks the parameters SPEC does
// not select `frozen` (the train graph then computes no gradient, no moments
// and no AdamW step for them), and growc-run checks a SPEC against the
// frozen set a plan was compiled with (the runtime cannot rebuild the
// graph). Over parameter names and growth provenance only, so that the
// compiler (grow.param) and the runtime (plan params) share it.
//
//   SPEC   := "all" | "inserted" | item ("," item)*
//   item   := N | A ":" B | "embed" | "norm" | "lm_head"
//
// `all` selects every parameter; `inserted` those with `copy` provenance
// (the copies a growth step inserted); N selects layer N's parameters,
// A:B layers A..B-1 (half-open, like mergekit's layer_range), `embed`,
// `norm` and `lm_head` the embedding, the final norm and an untied head.
// A tied head is the embedding and follows it.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TRAINABLE_H
#define GROWC_RUNTIME_TRAINABLE_H

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Status.h"

#include <string>
#include <vector>

namespace growc::rt {

/// A model parameter as the SPEC sees it: its checkpoint name and whether
/// growth inserted it (`copy` provenance).
struct TrainableParam {
  std::string name;
  bool copy = false;
};

/// Which of `params` `spec` selects (true: trainable). An error, naming the
/// offending token, for a malformed SPEC, a layer the model does not have,
/// `lm_head` of a tied model, `inserted` without provenance, or a SPEC that
/// selects nothing.
StatusOr<std::vector<bool>>
resolveTrainable(const std::string &spec,
                 const std::vector<TrainableParam> &params);

/// A compact description of the parameters `selected` marks, for one line
/// of output: "layers 0-3,6; embed; norm" (layer ranges of the parameters
/// whose whole layer is selected, then the non-layer parameters, then any
/// single parameters of a partly selected layer); "none" if none.
std::string describeParamSet(const std::vector<TrainableParam> &params,
                             const std::vector<bool> &selected);

//===----------------------------------------------------------------------===//
// A train plan's frozen set (growc-run train)
//===----------------------------------------------------------------------===//

/// Whether any parameter of `plan` is frozen.
bool hasFrozenParams(const Plan &plan);

/// "training N of M parameters (P of Q values); frozen: <set>" for a plan
/// with frozen parameters (optimizer state is not counted).
std::string describeTraining(const Plan &plan);

/// Ok where `spec` selects exactly the parameters `plan` trains; otherwise
/// an error saying what each trains and that the graph must be recompiled
/// with growc --trainable=SPEC (the runtime cannot rebuild it).
Status checkTrainable(const Plan &plan, const std::string &spec);

/// A note for a checkpoint that holds optimizer state of parameters `plan`
/// freezes (a run that trained them before): it is not loaded, and the next
/// checkpoint does not have it. Empty if there is none.
std::string frozenStateNote(const Plan &plan, const Checkpoint &checkpoint);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TRAINABLE_H
