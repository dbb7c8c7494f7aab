// sample a kernel thread's schedstat runtime; print bursts: start(realtime ms) dur(ms of runtime) cpu
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
static double real(){struct timespec t;clock_gettime(CLOCK_REALTIME,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static double mono(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static unsigned long long rt(const char*p){FILE*f=fopen(p,"r");unsigned long long a=0;if(f){fscanf(f,"%llu",&a);fclose(f);}return a;}
static int cpu(const char*p){FILE*f=fopen(p,"r");char b[2048];int n=fread(b,1,2047,f);fclose(f);b[n]=0;char*s=strrchr(b,')');int i=0;for(char*t=strtok(s+2," ");t;t=strtok(0," ")){i++;if(i==37)return atoi(t);}return -1;}
int main(int c,char**v){char sp[64],stp[64];sprintf(sp,"/proc/%s/schedstat",v[1]);sprintf(stp,"/proc/%s/stat",v[1]);double dur=atof(v[2])*1000;
double st=mono();unsigned long long last=rt(sp);double bs=0;unsigned long long b0=0;double lastchg=0;int bc=-1;struct timespec s={0,200000};
while(mono()-st<dur){nanosleep(&s,0);unsigned long long r=rt(sp);double now=real();
 if(r!=last){ if(bs==0){bs=now;b0=last;bc=cpu(stp);} lastchg=now; last=r;}
 else if(bs!=0 && now-lastchg>2){printf("%.3f %.3f %.3f %d\n",bs,(last-b0)/1e6,lastchg-bs,bc);fflush(stdout);bs=0;}
}}
