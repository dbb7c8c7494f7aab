#include <stdio.h>
#include <time.h>
#include <stdlib.h>
static double mono(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static double real(){struct timespec t;clock_gettime(CLOCK_REALTIME,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
int main(int c,char**v){double dur=atof(v[1])*1000, thr=atof(v[2]);struct timespec s={0,500000};double st=mono();
struct timespec ru0,ru1; 
while(mono()-st<dur){double a=mono();clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&ru0);nanosleep(&s,0);double l=mono()-a-0.5;if(l>thr)printf("%.3f %.3f\n",real(),l);}
fflush(stdout);}
