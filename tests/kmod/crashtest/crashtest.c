// SPDX-License-Identifier: GPL-2.0
/*
 * crashtest: a test module that crashes the kernel on demand, for initrd-test's crash
 * reports. Load it with "modprobe crashtest", then write one word to
 * /sys/kernel/crashtest/trigger:
 *   warn  WARN_ON(1) in crashtest_warn (the kernel goes on)
 *   null  a NULL pointer write in crashtest_null (an Oops; the writing task dies)
 *   bug   BUG() in crashtest_bug (an Oops; the writing task dies)
 *   hang  a kernel thread that sleeps in D state for ever (hung_task_timeout_secs fires)
 */
#include <linux/bug.h>
#include <linux/delay.h>
#include <linux/kobject.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/sysfs.h>

static struct kobject *crashtest_kobj;

static noinline void crashtest_warn(void)
{
	WARN_ON(1);
}

static noinline void crashtest_null(void)
{
	int *volatile p = NULL;

	*p = 42;
}

static noinline void crashtest_bug(void)
{
	BUG();
}

static int crashtest_hang_fn(void *unused)
{
	for (;;) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		schedule_timeout(MAX_SCHEDULE_TIMEOUT);
	}
	return 0;
}

static noinline void crashtest_hang(void)
{
	kthread_run(crashtest_hang_fn, NULL, "crashtest_hang");
}

static ssize_t trigger_store(struct kobject *kobj, struct kobj_attribute *attr, const char *buf,
			     size_t count)
{
	if (sysfs_streq(buf, "warn"))
		crashtest_warn();
	else if (sysfs_streq(buf, "null"))
		crashtest_null();
	else if (sysfs_streq(buf, "bug"))
		crashtest_bug();
	else if (sysfs_streq(buf, "hang"))
		crashtest_hang();
	else
		return -EINVAL;
	return count;
}

static struct kobj_attribute trigger_attr = __ATTR_WO(trigger);

static int __init crashtest_init(void)
{
	crashtest_kobj = kobject_create_and_add("crashtest", kernel_kobj);
	if (!crashtest_kobj)
		return -ENOMEM;
	return sysfs_create_file(crashtest_kobj, &trigger_attr.attr);
}

static void __exit crashtest_exit(void)
{
	kobject_put(crashtest_kobj);
}

module_init(crashtest_init);
module_exit(crashtest_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("initrd-test: crash the kernel on demand");
