import h5py, numpy as np, glob, json, sys, os
rows=[]
for f in sorted(glob.glob(sys.argv[1]+'/*.h5')):
    h=h5py.File(f,'r'); a=h.attrs
    lo,hi=float(a['ref_min_score']),float(a['ref_max_score'])
    r=h['rewards'][:]; t=h['terminals'][:]; to=h['timeouts'][:]
    ends=np.nonzero(t|to)[0]
    starts=np.r_[0,ends[:-1]+1]
    rets=np.array([r[s:e+1].sum(dtype=np.float64) for s,e in zip(starts,ends)])
    # drop the last episode if it was cut to size (shorter than the others' max and ends in timeout)
    lens=ends-starts+1
    if to[ends[-1]] and lens[-1]<lens.max(): rets=rets[:-1]; lens=lens[:-1]; 
    s=100*(rets-lo)/(hi-lo)
    nterm=int(t.sum())
    rows.append(dict(id=os.path.basename(f)[:-3],episodes=len(s),mean=s.mean(),std=s.std(),p10=np.percentile(s,10),median=np.median(s),p90=np.percentile(s,90),min=s.min(),max=s.max(),breach_frac=nterm/len(s)))
json.dump(rows,open(sys.argv[2],'w'),indent=1)
for x in rows: print("| {id} | {episodes} | {mean:.1f} | {std:.1f} | {min:.1f} | {p10:.1f} | {median:.1f} | {p90:.1f} | {max:.1f} | {breach_frac:.2f} |".format(**x))
