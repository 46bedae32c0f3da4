//===- GrowthSchedule.h - the Prop-alpha gradual growth schedule -*- C++
//-*-===//
//
// SPEC.md §3. The schedule itself lives in the runtime
// (growc/runtime/GrowthSchedule.h) because growc-run follows it in a growth
// run; the compiler names it through this header.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_GROWTH_GROWTHSCHEDULE_H
#define GROWC_GROWTH_GROWTHSCHEDULE_H

#include "growc/runtime/GrowthSchedule.h"

namespace growc {

using rt::FlopModel;
using rt::GrowthSchedule;
using rt::planGrowthSchedule;
using rt::ScheduleOptions;
using rt::ScheduleStage;

} // namespace growc

#endif // GROWC_GROWTH_GROWTHSCHEDULE_H
