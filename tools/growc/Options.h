//===- Options.h - growc's command-line options -----------------*- C++ -*-===//
//
// The options of the growc driver (LLVM's cl), defined in Options.cpp with
// their help texts and read by growc.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_TOOLS_GROWC_OPTIONS_H
#define GROWC_TOOLS_GROWC_OPTIONS_H

#include "llvm/Support/CommandLine.h"

#include <cstdint>
#include <string>

namespace growc::opts {

extern llvm::cl::OptionCategory growCat;
extern llvm::cl::opt<std::string> inputFile;
extern llvm::cl::opt<std::string> outputFile;
extern llvm::cl::opt<std::string> emit;
extern llvm::cl::opt<std::string> graph;
extern llvm::cl::opt<std::string> target;
extern llvm::cl::opt<std::string> gpuChip;
extern llvm::cl::opt<std::string> ptxFeatures;
extern llvm::cl::opt<std::string> libdevice;
extern llvm::cl::opt<int64_t> threadsPerBlock;
extern llvm::cl::opt<std::string> kernelForm;
extern llvm::cl::opt<std::string> gpuAttention;
extern llvm::cl::opt<std::string> precision;
extern llvm::cl::opt<int64_t> batchSize;
extern llvm::cl::opt<int64_t> seqLength;
extern llvm::cl::opt<int64_t> keyBlock;
extern llvm::cl::opt<int64_t> accumulate;
extern llvm::cl::opt<std::string> trainable;
extern llvm::cl::opt<int64_t> lossRows;
extern llvm::cl::opt<bool> fuseProjections;
extern llvm::cl::opt<double> allReduceBucketMb;
extern llvm::cl::opt<std::string> analysisPasses;
extern llvm::cl::opt<bool> analysisSuite;
extern llvm::cl::opt<int64_t> analysisSplit;
extern llvm::cl::list<int64_t> analysisSwapWindows;
extern llvm::cl::list<int64_t> analysisReverseWindows;
extern llvm::cl::opt<std::string> analysisLensAt;
extern llvm::cl::opt<bool> analysisSkipPosition0;
extern llvm::cl::opt<std::string> importConfig;
extern llvm::cl::list<std::string> ignoreConfigFields;
extern llvm::cl::opt<int64_t> numLayers;
extern llvm::cl::opt<std::string> modelName;
extern llvm::cl::opt<std::string> paramDType;
extern llvm::cl::opt<std::string> growMethod;
extern llvm::cl::opt<int64_t> blockSize;
extern llvm::cl::opt<int64_t> growSteps;
extern llvm::cl::opt<std::string> lidasOdd;
extern llvm::cl::opt<int64_t> expandEvery;
extern llvm::cl::opt<double> expandOutputScale;
extern llvm::cl::opt<int64_t> upscaleDrop;
extern llvm::cl::opt<std::string> layerRanges;
extern llvm::cl::opt<int64_t> stackFactor;
extern llvm::cl::opt<bool> printLineage;
extern llvm::cl::opt<bool> quiet;
extern llvm::cl::opt<std::string> weightsIn;
extern llvm::cl::opt<std::string> weightsOut;
extern llvm::cl::opt<std::string> initWeightsOut;
extern llvm::cl::opt<uint64_t> seed;
extern llvm::cl::opt<bool> zeroNewMoments;
extern llvm::cl::opt<bool> printSchedule;
extern llvm::cl::opt<int64_t> totalSteps;
extern llvm::cl::opt<int64_t> stages;
extern llvm::cl::opt<double> alpha;
extern llvm::cl::opt<double> growFraction;
extern llvm::cl::opt<int64_t> startBlocks;

} // namespace growc::opts

#endif // GROWC_TOOLS_GROWC_OPTIONS_H
