//===- ContentHash.h - Content hashes of artifact files ---------*- C++ -*-===//
//
// A plan records the content hash of its kernels file (docs/plan.md,
// "kernels_hash"), so that the runtime refuses a kernels file the plan was
// not compiled with: another batch size's kernels, another model's, a file
// half replaced by a crashed compile. growc computes the hash with these
// functions when it writes the artifact and the executors when they load
// it: one implementation on both sides.
//
// The hash is XXH3-128 (Debian's libxxhash), written as
// "xxh3-128:<32 lowercase hex digits>" (the canonical, big-endian byte order
// of the 128-bit value). It guards against mistakes, not against an
// attacker: whoever can write the kernels file can also edit the plan.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_CONTENTHASH_H
#define GROWC_RUNTIME_CONTENTHASH_H

#include "growc/runtime/Status.h"

#include <string>
#include <string_view>

namespace growc::rt {

/// The prefix of every content hash: the algorithm that produced it.
inline constexpr std::string_view kContentHashPrefix = "xxh3-128:";

/// The content hash of `data`.
std::string hashBytes(std::string_view data);

/// The content hash of the file at `path`, read in chunks (a kernels file
/// may be large); an error names the file and the OS reason.
StatusOr<std::string> hashFile(const std::string &path);

/// Whether `text` has the form of a content hash ("xxh3-128:" and 32
/// lowercase hex digits).
bool isContentHash(std::string_view text);

} // namespace growc::rt

#endif // GROWC_RUNTIME_CONTENTHASH_H
