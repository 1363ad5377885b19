#!/usr/bin/perl
# cu2emu.pl IN.cu OUT.cpp: rewrites the CUDA backend's source for the host emulation
# (fakecuda.h): its two CUDA includes become fakecuda.h, every kernel launch
# k<<<grid, block, shmem, stream>>>(args) becomes EMU_LAUNCH(k, grid, block, shmem, stream)(args).
# Nothing else changes, so the emulated module runs the backend's own host code and kernels.
use strict;
use warnings;
die "usage: cu2emu.pl IN.cu OUT.cpp\n" unless @ARGV == 2;
open(my $in, '<', $ARGV[0]) or die "cu2emu.pl: $ARGV[0]: $!\n";
my $s = do { local $/; <$in> };
close($in);
$s =~ s/#include <cublas_v2.h>\n#include <cuda_runtime.h>/#include "fakecuda.h"/
  or die "cu2emu.pl: $ARGV[0]: the cublas_v2.h + cuda_runtime.h includes were not found\n";
my $n = ($s =~ s/(\w+)<<<(.*?)>>>\(/EMU_LAUNCH($1, $2)(/gs);
die "cu2emu.pl: $ARGV[0]: no kernel launch found\n" unless $n;
open(my $out, '>', $ARGV[1]) or die "cu2emu.pl: $ARGV[1]: $!\n";
print $out $s;
close($out) or die "cu2emu.pl: $ARGV[1]: $!\n";
