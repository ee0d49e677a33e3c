"""testkit.processes: a script's peak memory, read from /proc."""

from testkit.processes import PeakRSS, vm_hwm_kib


def test_peak_rss_is_read_from_vmhwm():
    status = "Name:\tpython\nVmPeak:\t  300000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\n"
    assert vm_hwm_kib(status) == 81234
    assert vm_hwm_kib("Name:\tzombie\nState:\tZ (zombie)\n") is None


def test_a_scripts_peak_rss_is_the_sum_of_its_processes_own_peaks():
    peak = PeakRSS()
    peak.add(100, "VmHWM:\t   81920 kB\n")
    peak.add(101, "VmHWM:\t   40960 kB\n")
    peak.add(100, "VmHWM:\t   61440 kB\n")  # later samples never lower a peak
    peak.add(102, "State:\tZ (zombie)\n")
    assert peak.peaks_kib == {100: 81920, 101: 40960}
    assert (peak.mb, peak.nbytes) == (120, 120 * 2**20)
