// How many untimed calls settle the card before a turn's samples (MeasureOptions::settle_ms).
// Torch-free, so that its tests need no LibTorch.
#pragma once

namespace autotune::bench {

// Calls that fill about `settle_ms` of wall time: the time of one call is the longer of its
// device time and the host's time to issue it. A host-bound call (FA3 on SD1.5's 64-token
// shape: 0.008 ms on the device, 0.126 ms to issue) counted by its device time alone asked for
// 12,346 calls, 1.6 s a turn, which also filled CUDA's launch queue so that the samples behind
// them waited on it: 27.6 s of a full-set tune on the H200 (results/h200-2026-12-03-callB).
// At least one call; none where settle_ms is 0.
int settle_calls(double settle_ms, double device_ms, double host_ms);

}  // namespace autotune::bench
