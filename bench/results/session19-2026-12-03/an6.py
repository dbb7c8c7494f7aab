import json,glob,collections,sys
kd=[tuple(map(float,l.split())) for l in open(sys.argv[1])]
kend=kd[-1][0]
def overl(t0,t1): return any(k[0]<=t1 and k[0]+max(k[1],k[2])>=t0-0.5 for k in kd)
def pc(a,p): a=sorted(a); return a[min(len(a)-1,int(len(a)*p/100))]
files=sorted(glob.glob('dump/d-*.json'),key=lambda f:int(f[-10:-5]))
for f in files:
    rows=json.load(open(f))
    if rows[-1][3]/1000>kend: print(f,'not covered'); continue
    L=[(at-sn)/1000 for u,s,sn,at in rows]; C=[(at-sn)/1000 for u,s,sn,at in rows if not overl(sn/1000,at/1000)]
    print('%-6s %s p50 %.2f p99 %6.2f | outside kdamond bursts (%.1f%% of deliveries): p50 %.2f p99 %6.2f'%(f.split('-')[1],f[-10:-5],pc(L,50),pc(L,99),100*len(C)/len(L),pc(C,50),pc(C,99)))
