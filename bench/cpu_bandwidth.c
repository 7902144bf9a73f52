// Measured memory ceiling of the CPU bench machine: parallel memcpy and a parallel read sum.
// Build: gcc -O3 -fopenmp bench/cpu_bandwidth.c -o /tmp/bw && OMP_WAIT_POLICY=active /tmp/bw
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>
int main(){size_t n=512ul<<20; char*a=malloc(n),*b=malloc(n); memset(a,1,n); memset(b,2,n);
double best=1e9; for(int it=0;it<5;it++){double t=omp_get_wtime();
#pragma omp parallel for
for(int c=0;c<64;c++) memcpy(b+c*(n/64),a+c*(n/64),n/64);
t=omp_get_wtime()-t; if(t<best)best=t;}
printf("copy: %.1f GB/s (read+write)\n", 2.0*n/best/1e9);
double s=0; best=1e9; for(int it=0;it<5;it++){double t=omp_get_wtime(); double acc=0;
#pragma omp parallel for reduction(+:acc)
for(size_t i=0;i<n/8;i++) acc+=((double*)a)[i];
t=omp_get_wtime()-t; s+=acc; if(t<best)best=t;}
printf("read: %.1f GB/s (%g)\n", 1.0*n/best/1e9, s>0?1.0:0.0);}
